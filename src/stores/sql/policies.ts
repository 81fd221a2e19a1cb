import type { Db } from '../db.js';

/** Stored policy documents, by subject: an organization id, or 'baseline'. Never deleted. */
export class PolicyStore {
  constructor(private readonly db: Db) {}

  async get(subject: string): Promise<unknown | undefined> {
    const row = await this.db('security_policies').where({ subject }).first('policy');
    return row ? (JSON.parse(row.policy as string) as unknown) : undefined;
  }

  async put(subject: string, policy: unknown, updatedBy: string, now: number): Promise<void> {
    await this.db('security_policies')
      .insert({ subject, policy: JSON.stringify(policy), updated_at: now, updated_by: updatedBy })
      .onConflict('subject')
      .merge();
  }
}
