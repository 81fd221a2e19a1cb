import type { Db } from '../db.js';

/** next: published, not yet signing · current: signs · retired: published for verification only. */
export type KeyState = 'next' | 'current' | 'retired';

export interface SigningKeyRecord {
  kid: string;
  state: KeyState;
  privateJwk: Record<string, unknown>;
  createdAt: number;
  stateChangedAt: number;
}

interface Row {
  kid: string;
  state: KeyState;
  private_jwk: string;
  created_at: number;
  state_changed_at: number;
}

const toRecord = (r: Row): SigningKeyRecord => ({
  kid: r.kid,
  state: r.state,
  privateJwk: JSON.parse(r.private_jwk) as Record<string, unknown>,
  createdAt: r.created_at,
  stateChangedAt: r.state_changed_at,
});

export class SigningKeyStore {
  constructor(private readonly db: Db) {}

  async list(trx: Db = this.db): Promise<SigningKeyRecord[]> {
    const rows: Row[] = await trx<Row>('signing_keys').orderBy('created_at', 'asc').orderBy('kid', 'asc');
    return rows.map(toRecord);
  }

  async insert(k: SigningKeyRecord, trx: Db = this.db): Promise<void> {
    await trx<Row>('signing_keys').insert({
      kid: k.kid,
      state: k.state,
      private_jwk: JSON.stringify(k.privateJwk),
      created_at: k.createdAt,
      state_changed_at: k.stateChangedAt,
    });
  }

  async setState(kid: string, state: KeyState, now: number, trx: Db = this.db): Promise<void> {
    await trx<Row>('signing_keys').where({ kid }).update({ state, state_changed_at: now });
  }

  async remove(kid: string, trx: Db = this.db): Promise<void> {
    await trx<Row>('signing_keys').where({ kid }).delete();
  }

  /**
   * Runs fn in one transaction, so two nodes creating or rotating keys at once cannot interleave. On
   * PostgreSQL a transaction alone does not do it (under READ COMMITTED two nodes starting together
   * each saw no key and each inserted its own `current` and `next`), so the table is locked against
   * other writers first; readers are not blocked. SQLite serializes writers by itself.
   */
  transaction<T>(fn: (trx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      if ((trx.client as { dialect?: string }).dialect === 'postgresql') await trx.raw('LOCK TABLE ?? IN SHARE ROW EXCLUSIVE MODE', ['signing_keys']);
      return fn(trx);
    });
  }
}
