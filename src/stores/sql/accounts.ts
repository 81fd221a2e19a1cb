import type { Db } from '../db.js';
import { takeAttemptOn, type AttemptRule } from './attempt-counting.js';

export type AccountStatus = 'active' | 'disabled';
export type OrgRole = 'owner' | 'admin' | 'member';

export interface AccountRecord {
  id: string;
  email: string;
  /** When the user proved control of the mailbox (followed an invitation or reset link to the end); null: never. */
  emailVerifiedAt: number | null;
  name: string | null;
  passwordHash: string;
  status: AccountStatus;
  passwordChangedAt: number;
  createdAt: number;
  updatedAt: number;
  organizationId: string | null;
  orgRole: OrgRole | null;
  /** Set by an admin reset: the next sign-in asks for a new password. */
  mustChangePassword: boolean;
  expiryWarningSentFor: number | null;
  failedAttempts: number;
  lockedUntil: number | null;
  /**
   * The language the owner last signed in with (a tag such as 'vi'), for the mails sent to the account;
   * null: none yet. Stored as given: the mail service ignores a language Gatehouse no longer has.
   */
  locale: string | null;
  /** A platform administrator: the admin API treats this person like the bootstrap client. Set only by the CLI. */
  platformAdmin: boolean;
}

/** An accounts row (stores/sql/memberships.ts reads the same table). */
export interface Row {
  id: string;
  email: string;
  email_verified_at: number | null;
  name: string | null;
  password_hash: string;
  status: AccountStatus;
  password_changed_at: number;
  created_at: number;
  updated_at: number;
  email_domain: string;
  organization_id: string | null;
  org_role: OrgRole | null;
  must_change_password: boolean | number;
  expiry_warning_sent_for: number | null;
  failed_attempts: number;
  locked_until: number | null;
  locale: string | null;
  platform_admin: boolean | number;
}

export const toRecord = (r: Row): AccountRecord => ({
  id: r.id,
  email: r.email,
  emailVerifiedAt: r.email_verified_at,
  name: r.name,
  passwordHash: r.password_hash,
  status: r.status,
  passwordChangedAt: r.password_changed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  organizationId: r.organization_id,
  orgRole: r.org_role,
  mustChangePassword: Boolean(r.must_change_password),
  expiryWarningSentFor: r.expiry_warning_sent_for,
  failedAttempts: r.failed_attempts,
  lockedUntil: r.locked_until,
  locale: r.locale ?? null,
  platformAdmin: Boolean(r.platform_admin),
});

export class DuplicateError extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'DuplicateError';
  }
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class AccountStore {
  constructor(private readonly db: Db) {}

  async create(a: AccountRecord): Promise<void> {
    try {
      await this.db<Row>('accounts').insert({
        id: a.id,
        email: a.email,
        email_verified_at: a.emailVerifiedAt,
        name: a.name,
        password_hash: a.passwordHash,
        status: a.status,
        password_changed_at: a.passwordChangedAt,
        created_at: a.createdAt,
        updated_at: a.updatedAt,
        email_domain: a.email.slice(a.email.lastIndexOf('@') + 1),
        organization_id: a.organizationId,
        org_role: a.orgRole,
        must_change_password: a.mustChangePassword,
        expiry_warning_sent_for: a.expiryWarningSentFor,
        failed_attempts: a.failedAttempts,
        locked_until: a.lockedUntil,
        locale: a.locale,
        platform_admin: a.platformAdmin,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('an account with this email');
      throw err;
    }
  }

  async findById(id: string): Promise<AccountRecord | undefined> {
    const row = await this.db<Row>('accounts').where({ id }).first();
    return row && toRecord(row);
  }

  /** `email` must already be normalized (see services/accounts normalizeEmail). */
  async findByEmail(email: string): Promise<AccountRecord | undefined> {
    const row = await this.db<Row>('accounts').where({ email }).first();
    return row && toRecord(row);
  }

  /** Records that the user proved control of the mailbox; the first proof's time is kept. */
  async markEmailVerified(id: string, now: number): Promise<boolean> {
    const changed = await this.db<Row>('accounts').where({ id }).whereNull('email_verified_at').update({ email_verified_at: now });
    return changed === 1;
  }

  /** Replaces the stored hash of the same password (parameter upgrade); the password's age is unchanged. */
  async replaceHash(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({ password_hash: passwordHash, updated_at: now });
  }

  /** A new password: its hash, its age restarts, any forced change is satisfied, any lock lifted. */
  async setPassword(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({
      password_hash: passwordHash,
      password_changed_at: now,
      must_change_password: false,
      failed_attempts: 0,
      locked_until: null,
      updated_at: now,
    });
  }

  /**
   * Takes one sign-in attempt before the credential is checked, atomically, by the rule every counter
   * follows (attempt-counting.ts): false while locked, so however many requests race, at most
   * `threshold` credentials are checked per window.
   */
  async takeAttempt(id: string, rule: AttemptRule, onLock?: () => void): Promise<boolean> {
    return takeAttemptOn(this.db, this.db<Row>('accounts').where({ id }), rule, onLock);
  }

  /** Gives back an attempt that turned out not to be a failure (a correct password with a second factor to come). */
  async refundAttempt(id: string): Promise<void> {
    await this.db<Row>('accounts')
      .where({ id })
      .andWhere('failed_attempts', '>', 0)
      .update({ failed_attempts: this.db.raw('failed_attempts - 1'), locked_until: null });
  }

  /** A successful sign-in (or an admin unlock) clears the count and the lock. */
  async clearAttempts(id: string): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({ failed_attempts: 0, locked_until: null });
  }

  /**
   * Records the language the owner signed in with; writes only when it differs from the stored one, so a
   * sign-in in the same language costs no write. True when it changed. Not an account change: updated_at stays.
   */
  async setLocale(id: string, locale: string): Promise<boolean> {
    const changed = await this.db<Row>('accounts')
      .where({ id })
      .andWhere((q) => q.whereNull('locale').orWhereNot({ locale }))
      .update({ locale });
    return changed === 1;
  }

  async setMustChangePassword(id: string, value: boolean, now: number): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({ must_change_password: value, updated_at: now });
  }

  /** Takes the expiry warning of this password for sending; false when another node already took it. */
  async claimExpiryWarning(id: string, passwordChangedAt: number): Promise<boolean> {
    const taken = await this.db<Row>('accounts')
      .where({ id, password_changed_at: passwordChangedAt })
      .andWhere((q) => q.whereNull('expiry_warning_sent_for').orWhereNot({ expiry_warning_sent_for: passwordChangedAt }))
      .update({ expiry_warning_sent_for: passwordChangedAt });
    return taken === 1;
  }

  /** Gives a claimed warning back (the mail could not be sent), so a later run tries again. */
  async releaseExpiryWarning(id: string, passwordChangedAt: number): Promise<void> {
    await this.db<Row>('accounts').where({ id, expiry_warning_sent_for: passwordChangedAt }).update({ expiry_warning_sent_for: null });
  }

  /** Active accounts whose password was set before `changedBefore` and who were not yet warned about it. */
  async unwarnedOlderThan(changedBefore: number): Promise<AccountRecord[]> {
    const rows = await this.db<Row>('accounts')
      .where({ status: 'active' })
      .andWhere('password_changed_at', '<=', changedBefore)
      .andWhere((q) => q.whereNull('expiry_warning_sent_for').orWhereRaw('expiry_warning_sent_for <> password_changed_at'));
    return rows.map(toRecord);
  }

  async setStatus(id: string, status: AccountStatus, now: number): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({ status, updated_at: now });
  }

  /** Grants or revokes platform administration; true when it changed (granting twice changes nothing). */
  async setPlatformAdmin(id: string, value: boolean, now: number): Promise<boolean> {
    const changed = await this.db<Row>('accounts').where({ id }).andWhereNot({ platform_admin: value }).update({ platform_admin: value, updated_at: now });
    return changed === 1;
  }

  // Memberships change only through stores/sql/memberships.ts, which keeps the last owner and records who added whom.

  /** Accounts by id order, after `afterId` (cursor pagination), optionally filtered. */
  async list(filter: { email?: string; organizationId?: string; afterId?: string; limit: number }): Promise<AccountRecord[]> {
    const q = this.db<Row>('accounts').orderBy('id', 'asc').limit(filter.limit);
    if (filter.email) q.where({ email: filter.email });
    if (filter.organizationId) q.where({ organization_id: filter.organizationId });
    if (filter.afterId) q.where('id', '>', filter.afterId);
    return (await q).map(toRecord);
  }

  /** Accounts whose email domain is one of `domains`: the users an organization's policy governs. */
  async listByDomains(domains: string[]): Promise<AccountRecord[]> {
    if (!domains.length) return [];
    return (await this.db<Row>('accounts').whereIn('email_domain', domains)).map(toRecord);
  }
}
