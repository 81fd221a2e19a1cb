import type { Db } from '../db.js';

/** What a mailed link lets its holder do: choose a new password (reset) or a first one (invitation). */
export type LinkPurpose = 'reset' | 'invitation';

export interface ResetTokenRecord {
  tokenHash: string;
  accountId: string;
  purpose: LinkPurpose;
  expiresAt: number;
  usedAt: number | null;
}

/**
 * Mailed single-use links (password resets and invitations), stored only as SHA-256 digests. Every
 * lookup names the purpose, so a link of one kind never works as the other.
 */
export class ResetTokenStore {
  constructor(private readonly db: Db) {}

  async insert(tokenHash: string, accountId: string, now: number, expiresAt: number, purpose: LinkPurpose = 'reset'): Promise<void> {
    await this.db('password_reset_tokens').insert({ token_hash: tokenHash, account_id: accountId, purpose, created_at: now, expires_at: expiresAt });
  }

  async find(tokenHash: string, purpose: LinkPurpose = 'reset'): Promise<ResetTokenRecord | undefined> {
    const r = await this.db('password_reset_tokens').where({ token_hash: tokenHash, purpose }).first();
    return r && { tokenHash: r.token_hash, accountId: r.account_id, purpose: r.purpose, expiresAt: r.expires_at, usedAt: r.used_at };
  }

  /**
   * Uses the token up with one conditional update; false when it was already used, has expired or is
   * of another purpose. However many requests race, exactly one can win.
   */
  async use(tokenHash: string, now: number, purpose: LinkPurpose = 'reset'): Promise<boolean> {
    const changed = await this.db('password_reset_tokens')
      .where({ token_hash: tokenHash, purpose })
      .whereNull('used_at')
      .andWhere('expires_at', '>', now)
      .update({ used_at: now });
    return changed === 1;
  }

  /** A new password makes every other outstanding link of the account useless, invitations included. */
  async useAll(accountId: string, now: number): Promise<void> {
    await this.db('password_reset_tokens').where({ account_id: accountId }).whereNull('used_at').update({ used_at: now });
  }

  /** Deletes links that expired before `before`; returns how many. */
  async sweep(before: number): Promise<number> {
    return this.db('password_reset_tokens').where('expires_at', '<', before).delete();
  }
}
