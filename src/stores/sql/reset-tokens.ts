import type { Db } from '../db.js';

export interface ResetTokenRecord {
  tokenHash: string;
  accountId: string;
  expiresAt: number;
  usedAt: number | null;
}

/** Password-reset tokens, stored only as SHA-256 digests. */
export class ResetTokenStore {
  constructor(private readonly db: Db) {}

  async insert(tokenHash: string, accountId: string, now: number, expiresAt: number): Promise<void> {
    await this.db('password_reset_tokens').insert({ token_hash: tokenHash, account_id: accountId, created_at: now, expires_at: expiresAt });
  }

  async find(tokenHash: string): Promise<ResetTokenRecord | undefined> {
    const r = await this.db('password_reset_tokens').where({ token_hash: tokenHash }).first();
    return r && { tokenHash: r.token_hash, accountId: r.account_id, expiresAt: r.expires_at, usedAt: r.used_at };
  }

  /** Uses the token up; false when it was already used or has expired (so only one request can win). */
  async use(tokenHash: string, now: number): Promise<boolean> {
    const changed = await this.db('password_reset_tokens').where({ token_hash: tokenHash }).whereNull('used_at').andWhere('expires_at', '>', now).update({ used_at: now });
    return changed === 1;
  }

  /** A new password makes every other outstanding link of the account useless. */
  async useAll(accountId: string, now: number): Promise<void> {
    await this.db('password_reset_tokens').where({ account_id: accountId }).whereNull('used_at').update({ used_at: now });
  }

  /** Deletes links that expired before `before`; returns how many. */
  async sweep(before: number): Promise<number> {
    return this.db('password_reset_tokens').where('expires_at', '<', before).delete();
  }
}
