import type { Db } from '../db.js';

/** The hashes of an account's passwords, newest first; the newest is the current one. */
export class PasswordHistoryStore {
  /** The largest historyCount a policy allows: no more hashes than this are kept. */
  static readonly KEEP = 10;

  constructor(private readonly db: Db) {}

  async add(accountId: string, passwordHash: string, now: number): Promise<void> {
    await this.db('password_history').insert({ account_id: accountId, password_hash: passwordHash, created_at: now });
    const keep = await this.db('password_history').where({ account_id: accountId }).orderBy('id', 'desc').limit(PasswordHistoryStore.KEEP).pluck('id');
    await this.db('password_history').where({ account_id: accountId }).whereNotIn('id', keep).delete();
  }

  async recent(accountId: string, count: number): Promise<string[]> {
    return this.db('password_history').where({ account_id: accountId }).orderBy('id', 'desc').limit(count).pluck('password_hash');
  }
}
