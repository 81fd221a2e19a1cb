import type { Db } from '../db.js';

/** Second-factor recovery codes, stored as SHA-256 digests, each usable once. */
export class RecoveryCodeStore {
  constructor(private readonly db: Db) {}

  /**
   * The account's new set, replacing the old one at once: a code of the old set is never accepted after
   * this returns. Concurrent replacements are serialized on the account row (PostgreSQL; SQLite runs one
   * write transaction at a time), so exactly one set remains, never the union of two.
   */
  async replace(accountId: string, codeHashes: string[]): Promise<void> {
    await this.db.transaction(async (trx) => {
      if (this.db.client.config.client === 'pg') await trx('accounts').where({ id: accountId }).forUpdate().first('id');
      await trx('recovery_codes').where({ account_id: accountId }).delete();
      await trx('recovery_codes').insert(codeHashes.map((code_hash) => ({ account_id: accountId, code_hash })));
    });
  }

  /** Uses a code up; false when it is not one of the account's unused codes. */
  async use(accountId: string, codeHash: string, now: number): Promise<boolean> {
    const changed = await this.db('recovery_codes').where({ account_id: accountId, code_hash: codeHash }).whereNull('used_at').update({ used_at: now });
    return changed === 1;
  }

  async remaining(accountId: string): Promise<number> {
    const row = await this.db('recovery_codes').where({ account_id: accountId }).whereNull('used_at').count({ n: '*' }).first();
    return Number(row?.n ?? 0);
  }

  async clear(accountId: string): Promise<void> {
    await this.db('recovery_codes').where({ account_id: accountId }).delete();
  }
}
