import type { Db } from '../db.js';
import { nowSeconds } from '../db.js';
import { GRANTABLE_MODELS, type OidcStore, type Payload } from '../oidc-store.js';

interface Row {
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  account_id: string | null;
  expires_at: number | null;
  consumed_at: number | null;
}

/** OidcStore on the SQL database: one table, indexed by grant, uid, user code and account. */
export class SqlOidcStore implements OidcStore {
  constructor(private readonly db: Db) {}

  private live(model: string) {
    return this.db<Row>('oidc_payloads')
      .where({ model })
      .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', nowSeconds()));
  }

  private static decode(row: Pick<Row, 'payload' | 'consumed_at'> | undefined): Payload | undefined {
    if (!row) return undefined;
    const payload = JSON.parse(row.payload) as Payload;
    if (row.consumed_at != null) payload.consumed = row.consumed_at;
    return payload;
  }

  async upsert(model: string, id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const row = {
      model,
      id,
      payload: JSON.stringify(payload),
      grant_id: GRANTABLE_MODELS.has(model) ? (payload.grantId ?? null) : null,
      uid: payload.uid ?? null,
      user_code: payload.userCode ?? null,
      account_id: payload.accountId ?? null,
      expires_at: expiresIn ? nowSeconds() + expiresIn : null,
      consumed_at: payload.consumed ?? null,
    };
    await this.db('oidc_payloads').insert(row).onConflict(['model', 'id']).merge();
  }

  async find(model: string, id: string) {
    return SqlOidcStore.decode(await this.live(model).andWhere({ id }).first('id', 'payload', 'consumed_at'));
  }

  async findByUid(model: string, uid: string) {
    return SqlOidcStore.decode(await this.live(model).andWhere({ uid }).first('id', 'payload', 'consumed_at'));
  }

  async findByUserCode(model: string, userCode: string) {
    return SqlOidcStore.decode(
      await this.live(model).andWhere({ user_code: userCode }).first('id', 'payload', 'consumed_at'),
    );
  }

  async consume(model: string, id: string): Promise<boolean> {
    // One conditional UPDATE: the database lets exactly one of racing statements change the row.
    const changed = await this.db('oidc_payloads').where({ model, id }).whereNull('consumed_at').update({ consumed_at: nowSeconds() });
    return changed === 1;
  }

  /** No column for a claim: only consumes known to have been made are taken back. */
  readonly claimsConsumes = false;

  async unconsume(model: string, id: string): Promise<void> {
    await this.db('oidc_payloads').where({ model, id }).update({ consumed_at: null });
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.db('oidc_payloads').where({ model, id }).delete();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db('oidc_payloads').where({ grant_id: grantId }).delete();
  }

  async listByAccount(accountId: string, model: string) {
    const rows: Row[] = await this.live(model).andWhere({ account_id: accountId }).select('id', 'payload', 'consumed_at');
    return rows.map((row) => ({ id: row.id, payload: SqlOidcStore.decode(row)! }));
  }

  async sweep(): Promise<number> {
    return this.db('oidc_payloads').where('expires_at', '<=', nowSeconds()).delete();
  }

  async close(): Promise<void> {
    // The knex instance belongs to the composition root, which closes it.
  }
}
