import { randomUUID } from 'node:crypto';
import { DuplicateError, type AccountRecord, type AccountStatus, type AccountStore, type OrgRole } from '../stores/sql/accounts.js';
import { nowSeconds } from '../stores/db.js';
import { normalizeDomain } from '../policy/domains.js';
import type { PasswordHasher } from './passwords.js';
import { NO_PASSWORD_HASH, normalizePassword } from './passwords.js';
import { ConflictError, englishOf, NotFoundError, ValidationError, type FieldProblem } from './errors.js';
import type { PolicyService } from './policies.js';
import type { PasswordHistoryStore } from '../stores/sql/password-history.js';
import { LOCKOUT_THRESHOLD } from '../policy/security-policy.js';
import type { AttemptCounterStore } from '../stores/sql/attempt-counters.js';
import type { AttemptRule } from '../stores/sql/attempt-counting.js';
import { secondFactorRequired } from '../policy/second-factor.js';
import { enrolledFactors, type EnrolledFactors, type FactorStore } from '../stores/factors.js';
import type { EffectivePolicy } from '../policy/effective-policy.js';
import type { Locale } from '../i18n/index.js';
import { m } from '../i18n/message.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';
import { requestScopes } from '../observability/request-context.js';

/** Unicode local parts are allowed (RFC 6531); no spaces, quotes or other specials. */
const LOCAL_PART = /^(?!\.)(?!.*\.\.)[^\s@"(),:;<>[\\\]]{1,64}(?<!\.)$/u;

/**
 * The one spelling of an email address that Gatehouse stores and compares: NFC, trimmed, lower-case,
 * with an internationalized domain in its ASCII (punycode) form. Returns null when it is not an address.
 */
export function normalizeEmail(input: string): string | null {
  const trimmed = input.normalize('NFC').trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return null;
  const domain = normalizeDomain(trimmed.slice(at + 1));
  if (!domain) return null;
  const local = trimmed.slice(0, at);
  const email = `${local}@${domain}`;
  return LOCAL_PART.test(local) && email.length <= 320 ? email : null;
}

export interface NewAccount {
  email: string;
  /** Required unless `invite`. */
  password?: string;
  /**
   * No password: the account cannot sign in until the user follows the invitation link mailed by
   * InvitationService and chooses one.
   */
  invite?: boolean;
  name?: string;
  /** Joins the organization as a member (the organization must exist). */
  organizationId?: string;
  role?: OrgRole;
}

/** invalid: unknown email, wrong password or disabled account (one answer for all three); locked: too many failures. */
/** A success carries the policy and factors it read, so the sign-in does not read them again in the same request. */
export type Authentication =
  | { ok: true; account: AccountRecord; effective: EffectivePolicy; factors: EnrolledFactors }
  /** accountId: the account the address belongs to, for its audit trail only (never shown: the answer is the same). */
  | { ok: false; reason: 'invalid'; accountId?: string }
  /** lockedUntil: when the lock ends (epoch seconds), for the page to say how long; null when not known. */
  | { ok: false; reason: 'locked'; lockedUntil: number | null; accountId?: string };

export class AccountService {
  constructor(
    private readonly accounts: AccountStore,
    private readonly hasher: PasswordHasher,
    private readonly policies: PolicyService,
    private readonly history: PasswordHistoryStore,
    private readonly lockout: { seconds: number; unknownAddresses: AttemptCounterStore },
    private readonly factors: FactorStore,
    private readonly metrics: Metrics = NO_METRICS,
  ) {}

  /**
   * For the lockout metric: called when an attempt reaches the threshold. The lock stands unless the
   * credential then proves right (the attempt is given back or the count cleared, which lifts it), so it
   * is counted when the request ends (observeRequests) if the request has not lifted it by then.
   * Undefined with metrics off: the attempt's statement then stays as it is, without RETURNING.
   */
  private onLock(key: string): (() => void) | undefined {
    if (!this.metrics.enabled) return undefined;
    return () => {
      const scope = requestScopes.getStore();
      if (scope) (scope.armedLocks ??= new Set()).add(key);
      else this.metrics.lockouts(1);
    };
  }

  private lockLifted(id: string): void {
    requestScopes.getStore()?.armedLocks?.delete(`account:${id}`);
  }

  async create(input: NewAccount): Promise<AccountRecord> {
    const errors: FieldProblem[] = [];
    const email = normalizeEmail(input.email ?? '');
    if (!email) errors.push({ field: 'email', message: 'must be a valid email address' });
    if (input.invite) {
      if (input.password !== undefined) errors.push({ field: 'password', message: 'must be left out of an invitation: the user chooses it' });
    } else if (!input.password) errors.push({ field: 'password', message: 'is required' });
    else if (normalizePassword(input.password) === null) errors.push({ field: 'password', message: 'must be at most 1024 bytes' });
    const name = input.name?.trim() || null;
    if (name && name.length > 200) errors.push({ field: 'name', message: 'must be at most 200 characters' });
    if (email && input.password && !errors.some((e) => e.field === 'password')) {
      // The rules of the policy that will govern this address.
      for (const v of await this.policies.passwordViolations({ email, name }, input.password)) {
        // English only: these reach the admin API and the CLI, never a page.
        errors.push({ field: 'password', message: englishOf(v.message), code: v.code, ...(v.params ? { params: v.params } : {}) });
      }
    }
    if (errors.length) throw new ValidationError(errors);

    const now = nowSeconds();
    const account: AccountRecord = {
      id: randomUUID(),
      email: email!,
      emailVerifiedAt: null,
      name,
      passwordHash: input.invite ? NO_PASSWORD_HASH : await this.hasher.hash(input.password!),
      status: 'active',
      passwordChangedAt: now,
      createdAt: now,
      updatedAt: now,
      organizationId: input.organizationId ?? null,
      orgRole: input.organizationId ? (input.role ?? 'member') : null,
      mustChangePassword: false,
      expiryWarningSentFor: null,
      failedAttempts: 0,
      lockedUntil: null,
      locale: null,
      platformAdmin: false,
    };
    try {
      await this.accounts.create(account);
    } catch (err) {
      if (err instanceof DuplicateError) throw new ConflictError('an account with this email already exists', m('There is already an account with this email address.'));
      throw err;
    }
    if (!input.invite) await this.history.add(account.id, account.passwordHash, now);
    return account;
  }

  async get(id: string): Promise<AccountRecord> {
    const account = await this.accounts.findById(id);
    if (!account) throw new NotFoundError('user');
    return account;
  }

  async setStatus(id: string, status: AccountStatus): Promise<AccountRecord> {
    await this.get(id);
    await this.accounts.setStatus(id, status, nowSeconds());
    return this.get(id);
  }

  /**
   * Grants or revokes platform administration by email (the CLI's grant-platform-admin and
   * revoke-platform-admin; the admin API never sets it). Returns the account and whether it changed;
   * the caller audits the change.
   */
  async setPlatformAdmin(email: string, value: boolean): Promise<{ account: AccountRecord; changed: boolean }> {
    const normalized = normalizeEmail(email);
    if (!normalized) throw new ValidationError([{ field: 'email', message: 'must be a valid email address' }]);
    const found = await this.accounts.findByEmail(normalized);
    if (!found) throw new NotFoundError('user');
    const changed = await this.accounts.setPlatformAdmin(found.id, value, nowSeconds());
    return { account: await this.get(found.id), changed };
  }

  /** One page of accounts in id order; `cursor` is the last id of the previous page. */
  async list(filter: { email?: string; organizationId?: string; cursor?: string; limit: number }) {
    const email = filter.email === undefined ? undefined : normalizeEmail(filter.email);
    // No address matches text that is not an email address. (It used to be looked up as "\u0000", which PostgreSQL
    // refuses in text: a 500 on every such search.)
    if (email === null) return { items: [], nextCursor: null };
    const page = await this.accounts.list({ email: email ?? undefined, organizationId: filter.organizationId, afterId: filter.cursor, limit: filter.limit + 1 });
    const more = page.length > filter.limit;
    const items = more ? page.slice(0, filter.limit) : page;
    return { items, nextCursor: more ? items[items.length - 1]!.id : null };
  }

  findById(id: string): Promise<AccountRecord | undefined> {
    return this.accounts.findById(id);
  }

  /**
   * Checks an email and password. Unknown emails, disabled accounts and wrong passwords all cost one
   * argon2 verification and give the same answer. Each attempt is counted before the hash is checked,
   * by the one rule of stores/sql/attempt-counting.ts: the fifth failure within the lockout window
   * locks. Addresses without an account are counted by the same rule and the same SQL (keyed by a
   * digest of the normalized email), so neither the lock nor its timing tells which accounts exist. A
   * correct password hashed with old parameters is rehashed. `governing`: the policy of this address
   * when the caller read it earlier in the same request (the whitelist check), so it is not read twice.
   */
  async authenticate(emailInput: string, password: string, governing?: EffectivePolicy): Promise<Authentication> {
    const email = normalizeEmail(emailInput);
    const account = email ? await this.accounts.findByEmail(email) : undefined;
    if (!account) {
      if (email && !(await this.lockout.unknownAddresses.takeAttempt(email, this.rule(), this.onLock(`address:${email}`)))) {
        return { ok: false, reason: 'locked', lockedUntil: await this.lockout.unknownAddresses.lockedUntil(email) };
      }
      await this.hasher.burn(password);
      return { ok: false, reason: 'invalid' };
    }
    if (!(await this.takeAttempt(account))) return { ok: false, reason: 'locked', lockedUntil: await this.lockedUntil(account.id), accountId: account.id };
    const { ok, rehash } = await this.hasher.verify(account.passwordHash, password);
    if (!ok || account.status !== 'active') return { ok: false, reason: 'invalid', accountId: account.id };
    // With a second factor to come, the sign-in has not succeeded yet: earlier failures still count
    // (only this attempt, which was no failure, is given back) until the second factor passes.
    const factors = enrolledFactors(await this.factors.listByAccount(account.id));
    const effective = governing ?? (await this.policies.effectiveFor(account));
    if (secondFactorRequired(factors, effective.policy)) await this.accounts.refundAttempt(account.id);
    else await this.accounts.clearAttempts(account.id);
    this.lockLifted(account.id);
    if (rehash) await this.accounts.replaceHash(account.id, await this.hasher.hash(password), nowSeconds());
    return { ok: true, account, effective, factors };
  }

  /**
   * Checks the current password of a signed-in user (account page), counted like a sign-in attempt on
   * the same counter: false while locked (the hash is not checked) or when wrong. A right password
   * gives its attempt back, like a right password before a second factor, and clears nothing.
   */
  async checkCurrentPassword(account: AccountRecord, password: string): Promise<'ok' | 'invalid' | 'locked'> {
    if (!(await this.takeAttempt(account))) return 'locked';
    const { ok } = await this.hasher.verify(account.passwordHash, password);
    if (!ok) return 'invalid';
    await this.accounts.refundAttempt(account.id);
    this.lockLifted(account.id);
    return 'ok';
  }

  private rule(): AttemptRule {
    return { threshold: LOCKOUT_THRESHOLD, now: nowSeconds(), windowSeconds: this.lockout.seconds };
  }

  /** Counts one attempt (password or second factor) before it is checked (false: locked); see attempt-counting.ts. */
  async takeAttempt(account: AccountRecord): Promise<boolean> {
    return this.accounts.takeAttempt(account.id, this.rule(), this.onLock(`account:${account.id}`));
  }

  /**
   * When the account's lock ends (epoch seconds), read after an attempt was refused as locked; null
   * when it is not locked (any more). Read the same way as an unknown address's, so the two answer alike.
   */
  async lockedUntil(id: string): Promise<number | null> {
    const until = (await this.accounts.findById(id))?.lockedUntil ?? null;
    return until !== null && until > nowSeconds() ? until : null;
  }

  /** Deletes lapsed counters of addresses without an account (they would count afresh anyway). */
  sweepUnknownAddresses(): Promise<number> {
    return this.lockout.unknownAddresses.sweep(nowSeconds(), this.lockout.seconds);
  }

  /**
   * A sign-in completed with pages in `locale`: the account's mails are written in it from now on
   * (services/mail.ts mailLocale). Stored only when it changed.
   */
  async signedInWith(account: AccountRecord, locale: Locale | undefined): Promise<void> {
    if (locale && locale !== account.locale) await this.accounts.setLocale(account.id, locale);
  }

  async clearAttempts(id: string): Promise<void> {
    await this.accounts.clearAttempts(id);
    this.lockLifted(id);
  }

  /** Lifts a lock (admin action). */
  async unlock(id: string): Promise<AccountRecord> {
    await this.get(id);
    await this.accounts.clearAttempts(id);
    return this.get(id);
  }
}
