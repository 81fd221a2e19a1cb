import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { FactorRecord, FactorStore, PasskeyDeviceType, PasskeyFactor } from '../factors.js';
import { isUniqueViolation } from './accounts.js';

interface FactorRow {
  id: string;
  account_id: string;
  kind: 'totp' | 'passkey';
  label: string;
  created_at: number;
  last_used_at: number | null;
  secret: string | null;
  last_step: number | null;
  credential_id: string | null;
  public_key: string | null;
  sign_count: number | null;
  transports: string | null;
  device_type: PasskeyDeviceType | null;
  backed_up: boolean | number | null;
  aaguid: string | null;
  user_verified: boolean | number | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

const toRecord = (r: FactorRow): FactorRecord => {
  const base = { id: r.id, accountId: r.account_id, label: r.label, createdAt: Number(r.created_at), lastUsedAt: num(r.last_used_at) };
  if (r.kind === 'totp') return { ...base, kind: 'totp', secret: r.secret!, lastStep: num(r.last_step) };
  return {
    ...base,
    kind: 'passkey',
    credentialId: r.credential_id!,
    publicKey: r.public_key!,
    signCount: Number(r.sign_count ?? 0),
    transports: r.transports ? (JSON.parse(r.transports) as string[]) : [],
    deviceType: r.device_type!,
    backedUp: Boolean(r.backed_up),
    aaguid: r.aaguid,
    userVerified: Boolean(r.user_verified),
  };
};

const toRow = (f: FactorRecord): FactorRow => {
  const base = {
    id: f.id,
    account_id: f.accountId,
    kind: f.kind,
    label: f.label,
    created_at: f.createdAt,
    last_used_at: f.lastUsedAt,
    secret: null,
    last_step: null,
    credential_id: null,
    public_key: null,
    sign_count: null,
    transports: null,
    device_type: null,
    backed_up: null,
    aaguid: null,
    user_verified: null,
  };
  if (f.kind === 'totp') return { ...base, secret: f.secret, last_step: f.lastStep };
  return {
    ...base,
    credential_id: f.credentialId,
    public_key: f.publicKey,
    sign_count: f.signCount,
    transports: JSON.stringify(f.transports),
    device_type: f.deviceType,
    backed_up: f.backedUp,
    aaguid: f.aaguid,
    user_verified: f.userVerified,
  };
};

/** Refusals inside a transaction: rolls it back and answers false. */
class Refused extends Error {}

/** Statement size for `whereIn` lists (SQLite and PostgreSQL both cap bound parameters). */
const CHUNK = 500;

/**
 * Factors on SQLite and PostgreSQL. Single-use and conditional changes are either one conditional
 * statement (advanceTotpStep, advancePasskeyCounter, rename) or a transaction that first locks the
 * account row and then reads and writes (addFirst, add, remove, removeAll). Locking the account, not
 * the factor rows, serializes every change to one account's set of factors, including additions that
 * no existing row could be locked for. PostgreSQL: SELECT … FOR UPDATE; SQLite: a no-op UPDATE of the
 * row as the transaction's first statement, which takes the database's write lock up front (waiting
 * out another process's writer under busy_timeout) instead of failing on a read-then-write upgrade.
 * Every addition and removal moves the account's factor generation (accounts.totp_generation) on.
 */
export class SqlFactorStore implements FactorStore {
  constructor(private readonly db: Db) {}

  private get pg(): boolean {
    return this.db.client.config.client === 'pg';
  }

  /** Locks the account row for the rest of the transaction; false when there is no such account. */
  private async lockAccount(trx: Knex.Transaction, accountId: string): Promise<boolean> {
    if (this.pg) return (await trx('accounts').where({ id: accountId }).forUpdate().first('id')) !== undefined;
    const touched = await trx('accounts')
      .where({ id: accountId })
      .update({ totp_generation: trx.raw('totp_generation') } as never);
    return touched === 1;
  }

  private static async generationIn(trx: Knex | Knex.Transaction, accountId: string): Promise<number | undefined> {
    const row = await trx('accounts').where({ id: accountId }).first('totp_generation');
    return row === undefined ? undefined : Number(row.totp_generation);
  }

  private static async countOf(trx: Knex | Knex.Transaction, accountId: string): Promise<number> {
    const row = await trx('factors').where({ account_id: accountId }).count({ n: '*' }).first();
    return Number((row as { n?: number | string } | undefined)?.n ?? 0);
  }

  private static bump(trx: Knex.Transaction, accountId: string) {
    return trx('accounts')
      .where({ id: accountId })
      .update({ totp_generation: trx.raw('totp_generation + 1') } as never);
  }

  /** Runs `work` under the account's lock; a Refused or a unique violation (a duplicate credential or a second TOTP) answers false. */
  private async underLock(accountId: string, work: (trx: Knex.Transaction) => Promise<void>): Promise<boolean> {
    try {
      await this.db.transaction(async (trx) => {
        if (!(await this.lockAccount(trx, accountId))) throw new Refused();
        await work(trx);
      });
      return true;
    } catch (err) {
      if (err instanceof Refused || isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async listByAccount(accountId: string): Promise<FactorRecord[]> {
    const rows = await this.db<FactorRow>('factors').where({ account_id: accountId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
    return rows.map(toRecord);
  }

  async listByAccounts(accountIds: readonly string[]): Promise<Map<string, FactorRecord[]>> {
    const found = new Map<string, FactorRecord[]>(accountIds.map((id) => [id, []]));
    if (!accountIds.length) return found;
    const rows = await this.db<FactorRow>('factors')
      .whereIn('account_id', [...new Set(accountIds)])
      .orderBy([{ column: 'created_at' }, { column: 'id' }]);
    for (const row of rows) found.get(row.account_id)!.push(toRecord(row));
    return found;
  }

  async findPasskey(credentialId: string): Promise<PasskeyFactor | undefined> {
    const row = await this.db<FactorRow>('factors').where({ credential_id: credentialId, kind: 'passkey' }).first();
    return row && (toRecord(row) as PasskeyFactor);
  }

  async generation(accountId: string): Promise<number> {
    return (await SqlFactorStore.generationIn(this.db, accountId)) ?? 0;
  }

  async addFirst(factor: FactorRecord, generation: number): Promise<boolean> {
    return this.underLock(factor.accountId, async (trx) => {
      if ((await SqlFactorStore.generationIn(trx, factor.accountId)) !== generation) throw new Refused();
      if ((await SqlFactorStore.countOf(trx, factor.accountId)) > 0) throw new Refused();
      await trx('factors').insert(toRow(factor));
      await SqlFactorStore.bump(trx, factor.accountId);
    });
  }

  async add(factor: FactorRecord, options: { generation?: number } = {}): Promise<boolean> {
    return this.underLock(factor.accountId, async (trx) => {
      if (options.generation !== undefined && (await SqlFactorStore.generationIn(trx, factor.accountId)) !== options.generation) throw new Refused();
      if (factor.kind === 'totp' && (await trx('factors').where({ account_id: factor.accountId, kind: 'totp' }).first('id'))) throw new Refused();
      if (factor.kind === 'passkey' && (await trx('factors').where({ credential_id: factor.credentialId }).first('id'))) throw new Refused();
      await trx('factors').insert(toRow(factor));
      await SqlFactorStore.bump(trx, factor.accountId);
    });
  }

  async advanceTotpStep(factorId: string, step: number, now: number): Promise<boolean> {
    const changed = await this.db<FactorRow>('factors')
      .where({ id: factorId, kind: 'totp' })
      .andWhere((q) => q.whereNull('last_step').orWhere('last_step', '<', step))
      .update({ last_step: step, last_used_at: now });
    return changed === 1;
  }

  async advancePasskeyCounter(factorId: string, newCount: number, now: number): Promise<boolean> {
    const changed = await this.db<FactorRow>('factors')
      .where({ id: factorId, kind: 'passkey' })
      // Forward only; an authenticator without a counter (always 0) stays at 0.
      .andWhere((q) => (newCount === 0 ? q.where('sign_count', 0) : q.where('sign_count', '<', newCount)))
      .update({ sign_count: newCount, last_used_at: now });
    return changed === 1;
  }

  async rename(accountId: string, factorId: string, label: string): Promise<boolean> {
    const changed = await this.db<FactorRow>('factors').where({ id: factorId, account_id: accountId }).update({ label });
    return changed === 1;
  }

  async remove(accountId: string, factorId: string, options: { keepOne: boolean }): Promise<'removed' | 'last' | 'gone'> {
    let outcome: 'removed' | 'last' | 'gone' = 'gone';
    await this.underLock(accountId, async (trx) => {
      const exists = await trx('factors').where({ id: factorId, account_id: accountId }).first('id');
      if (!exists) return;
      if (options.keepOne && (await SqlFactorStore.countOf(trx, accountId)) <= 1) {
        outcome = 'last';
        return;
      }
      await trx('factors').where({ id: factorId, account_id: accountId }).delete();
      await SqlFactorStore.bump(trx, accountId);
      outcome = 'removed';
    });
    return outcome;
  }

  async removeAll(accountId: string): Promise<number> {
    let removed = 0;
    await this.underLock(accountId, async (trx) => {
      removed = await trx('factors').where({ account_id: accountId }).delete();
      // Even with nothing to remove: an enrollment started before the reset dies with the generation.
      await SqlFactorStore.bump(trx, accountId);
    });
    return removed;
  }

  async countWithoutFactor(accountIds: string[]): Promise<number> {
    const ids = [...new Set(accountIds)];
    let total = 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const row = await this.db('accounts as a')
        .whereIn('a.id', ids.slice(i, i + CHUNK))
        .whereNotExists((q) => q.select(this.db.raw('1')).from('factors as f').whereRaw('f.account_id = a.id'))
        .count({ n: '*' })
        .first();
      total += Number((row as { n?: number | string } | undefined)?.n ?? 0);
    }
    return total;
  }
}
