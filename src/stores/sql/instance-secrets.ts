import type { Db } from '../db.js';
import { isUniqueViolation } from './accounts.js';

/** Secrets generated once per installation (development cookie keys), shared by every node. */
export class InstanceSecretStore {
  constructor(private readonly db: Db) {}

  async getOrCreate(name: string, generate: () => string, now: number): Promise<string> {
    const existing = await this.db('instance_secrets').where({ name }).first('value');
    if (existing) return existing.value as string;
    try {
      await this.db('instance_secrets').insert({ name, value: generate(), created_at: now });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err; // another node won the race: read theirs
    }
    const row = await this.db('instance_secrets').where({ name }).first('value');
    return row.value as string;
  }
}
