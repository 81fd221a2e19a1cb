import type { Knex } from 'knex';
import type { Db } from '../db.js';
import { toRecord, type AccountRecord, type OrgRole, type Row } from './accounts.js';

/** Who made a membership: a platform admin, or the organization's own owners and admins. */
export type MembershipOrigin = 'platform' | 'organization';

interface MemberRow extends Row {
  membership_added_by: MembershipOrigin | null;
}

/** An account with the origin of its membership (null without one; a null origin counts as the organization's). */
export interface MemberRecord {
  account: AccountRecord;
  addedBy: MembershipOrigin | null;
}

export type JoinOutcome = 'joined' | 'changed' | 'missing' | 'other-organization' | 'last-owner';
export type LeaveOutcome = 'left' | 'not-member' | 'last-owner';

/**
 * The user search of the admin API's user list (the console's Users page). Every field narrows; a
 * boolean false asks for the opposite. Whether a password is about to expire depends on the governing
 * policy, so the caller decides that per account; `passwordChangedBefore` only narrows the candidates.
 */
export interface AccountSearch {
  /**
   * Already lower-case: an email prefix, or a substring of the name. Text with an '@' can only be an
   * email, so it is matched as a prefix alone (PostgreSQL: the accounts_email_prefix index).
   */
  q?: string;
  /** Locked at `now` (epoch seconds) by repeated failed sign-ins; false: not locked. */
  locked?: { value: boolean; now: number };
  disabled?: boolean;
  /** No authenticator app and no passkey; false: at least one. */
  noSecondFactor?: boolean;
  /** Epoch seconds: only passwords set at or before it. */
  passwordChangedBefore?: number;
}

/** LIKE with the text taken literally: its own wildcards (and the escape character) escaped. */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function applySearch(q: Knex.QueryBuilder, s: AccountSearch): void {
  if (s.q !== undefined) {
    const prefix = `${likeLiteral(s.q)}%`;
    if (s.q.includes('@')) q.whereRaw("email LIKE ? ESCAPE '\\'", [prefix]);
    else q.where((w) => w.whereRaw("email LIKE ? ESCAPE '\\'", [prefix]).orWhereRaw("LOWER(name) LIKE ? ESCAPE '\\'", [`%${likeLiteral(s.q!)}%`]));
  }
  if (s.locked) {
    const now = s.locked.now;
    if (s.locked.value) q.where('locked_until', '>', now);
    else q.where((w) => w.whereNull('locked_until').orWhere('locked_until', '<=', now));
  }
  if (s.disabled !== undefined) q.where({ status: s.disabled ? 'disabled' : 'active' });
  if (s.noSecondFactor !== undefined) {
    const factors = (sub: Knex.QueryBuilder) => sub.select(1).from('factors').whereRaw('factors.account_id = accounts.id');
    if (s.noSecondFactor) q.whereNotExists(factors);
    else q.whereExists(factors);
  }
  if (s.passwordChangedBefore !== undefined) q.where('password_changed_at', '<=', s.passwordChangedBefore);
}

const toMember = (r: MemberRow): MemberRecord => ({ account: toRecord(r), addedBy: r.membership_added_by });

/**
 * Memberships (accounts.organization_id, org_role, membership_added_by). Changes to one organization's
 * memberships run one at a time, each reading and writing inside a transaction that holds the
 * organization's row (PostgreSQL: SELECT … FOR UPDATE; SQLite runs one write transaction at a time),
 * so two admins removing or demoting the last two owners at once cannot both succeed, and an account
 * joins at most one organization.
 */
export class MembershipStore {
  constructor(private readonly db: Db) {}

  private get locks(): boolean {
    return this.db.client.config.client === 'pg';
  }

  private transaction<T>(organizationId: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      if (this.locks) await trx('organizations').where({ id: organizationId }).forUpdate().first('id');
      return work(trx);
    });
  }

  private async row(trx: Knex.Transaction, id: string): Promise<MemberRow | undefined> {
    const q = trx<MemberRow>('accounts').where({ id });
    if (this.locks) q.forUpdate();
    return q.first();
  }

  private static async owners(trx: Knex | Knex.Transaction, organizationId: string): Promise<number> {
    const row = await trx('accounts').where({ organization_id: organizationId, org_role: 'owner' }).count({ n: '*' }).first();
    return Number((row as { n?: number | string } | undefined)?.n ?? 0);
  }

  async find(id: string): Promise<MemberRecord | undefined> {
    const row = await this.db<MemberRow>('accounts').where({ id }).first();
    return row && toMember(row);
  }

  ownerCount(organizationId: string): Promise<number> {
    return MembershipStore.owners(this.db, organizationId);
  }

  /**
   * Adds the account to the organization with `role`, or changes its role there. A new membership
   * records `by`; a role change keeps the recorded origin, except that a platform admin's change makes
   * it the platform's. Refuses to move an account out of another organization, and to demote the last owner.
   */
  async join(id: string, organizationId: string, role: OrgRole, by: MembershipOrigin, now: number): Promise<JoinOutcome> {
    return this.transaction(organizationId, async (trx) => {
      const row = await this.row(trx, id);
      if (!row) return 'missing';
      if (row.organization_id !== null && row.organization_id !== organizationId) return 'other-organization';
      const fresh = row.organization_id === null;
      if (!fresh && row.org_role === 'owner' && role !== 'owner' && (await MembershipStore.owners(trx, organizationId)) <= 1) return 'last-owner';
      const addedBy = fresh || by === 'platform' ? by : (row.membership_added_by ?? 'organization');
      await trx<MemberRow>('accounts').where({ id }).update({ organization_id: organizationId, org_role: role, membership_added_by: addedBy, updated_at: now });
      return fresh ? 'joined' : 'changed';
    });
  }

  /** Takes the account out of the organization, unless it is the last owner. */
  async leave(id: string, organizationId: string, now: number): Promise<LeaveOutcome> {
    return this.transaction(organizationId, async (trx) => {
      const row = await this.row(trx, id);
      if (!row || row.organization_id !== organizationId) return 'not-member';
      if (row.org_role === 'owner' && (await MembershipStore.owners(trx, organizationId)) <= 1) return 'last-owner';
      await trx<MemberRow>('accounts').where({ id }).update({ organization_id: null, org_role: null, membership_added_by: null, updated_at: now });
      return 'left';
    });
  }

  /** Records who made a membership that began with the account itself (admin create-user with organizationId). */
  async setOrigin(id: string, organizationId: string, by: MembershipOrigin): Promise<void> {
    await this.db<MemberRow>('accounts').where({ id, organization_id: organizationId }).update({ membership_added_by: by });
  }

  /**
   * Accounts in id order after `afterId`: all of them, or (with `scope`) the members of
   * `scope.organizationId` and the accounts on `scope.domains`. Callers filter by authorization.
   * With a scope, each condition is its own keyset branch ordered by an index (organization_id, id) or
   * (email_domain, id), merged in id order: one `… OR email_domain IN …` filter ordered by id made
   * PostgreSQL walk the whole table in id order for a small organization among a million accounts.
   */
  async list(filter: {
    scope?: { organizationId: string; domains: string[] };
    email?: string;
    search?: AccountSearch;
    afterId?: string;
    limit: number;
  }): Promise<MemberRecord[]> {
    const branch = (where: Partial<MemberRow>) => {
      const q = this.db<MemberRow>('accounts').where(where).orderBy('id', 'asc').limit(filter.limit);
      if (filter.email !== undefined) q.where({ email: filter.email });
      if (filter.search) applySearch(q, filter.search);
      if (filter.afterId) q.where('id', '>', filter.afterId);
      return q;
    };
    const scope = filter.scope;
    if (!scope) return (await branch({})).map(toMember);
    const branches = [{ organization_id: scope.organizationId }, ...[...new Set(scope.domains)].map((d) => ({ email_domain: d }))].map(branch);
    if (branches.length === 1) return (await branches[0]!).map(toMember);
    // Each branch as a subquery (SQLite allows no ORDER BY / LIMIT directly in a compound SELECT); UNION drops the rows two branches share.
    const [first, ...rest] = branches.map((b, i) => this.db.select('*').from(b.as(`b${i}`)));
    const union = first!.union(rest);
    const rows: MemberRow[] = await this.db.select('*').from(union.as('u')).orderBy('id', 'asc').limit(filter.limit);
    return rows.map(toMember);
  }
}
