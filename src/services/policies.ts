import { effectivePolicy, emailDomain, type EffectivePolicy } from '../policy/effective-policy.js';
import { ipInList } from '../policy/ip.js';
import { checkPassword, passwordExpiresAt, type PasswordOwner, type PasswordViolation } from '../policy/password-rules.js';
import type { Logger } from 'pino';
import { POLICY_DOCUMENT_VERSION, readPolicyDocument } from '../policy/policy-documents.js';
import { DEFAULT_POLICY, mergePolicy, validatePolicy, type SecurityPolicy } from '../policy/security-policy.js';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { DomainClaimStore } from '../stores/sql/domain-claims.js';
import { BASELINE_SUBJECT, type GoverningDocuments, type PolicyStore, type StoredPolicy } from '../stores/sql/policies.js';
import type { FactorStore } from '../stores/factors.js';
import { nowSeconds } from '../stores/db.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { ConflictError, PolicyUnreadableError, ValidationError } from './errors.js';


/** Who is changing a policy, as far as the lockout guard cares. */
export interface PolicyCaller {
  actor: Actor;
  request: RequestInfo;
}

export interface PolicyPreview {
  governedUsers: number;
  mustChangePassword: number;
  mustEnroll2fa: number;
  callerAddress: string | null;
  callerOutsideWhitelist: boolean;
}

/**
 * Stored policies (organizations' and the baseline) and which one governs a user. Nothing is cached:
 * every sign-in reads the claim and the policy, so a revoked claim stops applying on the next
 * sign-in on every node.
 */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** How many parsed policy documents are kept (one per organization in use is plenty). */
const PARSED_DOCUMENTS = 1000;

export class PolicyService {
  constructor(
    private readonly policies: PolicyStore,
    private readonly claims: DomainClaimStore,
    private readonly accounts: AccountStore,
    private readonly audit: AuditService,
    private readonly factors: FactorStore,
    private readonly logger?: Logger,
  ) {}

  /**
   * Policies parsed from stored text, by that text: a pure function's results, not the state (every
   * request still reads the claim and the documents). Saves zod's validation of the same document on
   * every token and userinfo request.
   */
  private readonly parsed = new Map<string, SecurityPolicy>();

  /** When each unreadable subject was last logged: once a minute per subject, not once per request. */
  private readonly loggedAt = new Map<string, number>();

  /**
   * A stored document, upgraded to the current schema version and validated. One that cannot be read
   * throws PolicyUnreadableError (and is logged): never the defaults, which would switch off the
   * organization's 2FA enforcement and IP whitelist.
   */
  private async load(subject: string): Promise<SecurityPolicy | undefined> {
    return this.parse(await this.policies.get(subject));
  }

  /** A stored document read (see load); the same text and version always read the same, so the last few are kept. */
  private parse(stored: StoredPolicy | undefined): SecurityPolicy | undefined {
    if (stored === undefined) return undefined;
    const key = `${stored.version}:${stored.text}`;
    const known = this.parsed.get(key);
    if (known) return known;
    const read = readPolicyDocument(stored.text, stored.version);
    if (read.ok) {
      if (this.parsed.size >= PARSED_DOCUMENTS) this.parsed.delete(this.parsed.keys().next().value!);
      // Shared by every request that reads this text: frozen, so no caller can change it for the others.
      this.parsed.set(key, deepFreeze(read.policy));
      return read.policy;
    }
    const subject = stored.subject;
    const err = new PolicyUnreadableError(subject, read.reason);
    const now = Date.now();
    if ((this.loggedAt.get(subject) ?? 0) < now - 60_000) {
      this.loggedAt.set(subject, now);
      this.logger?.error({ subject, reason: read.reason }, `${err.message}; refusing what it governs until it is replaced`);
    }
    throw err;
  }

  /** Every stored document that cannot be read, for the start-up check. */
  async unreadable(): Promise<PolicyUnreadableError[]> {
    return (await this.policies.all()).flatMap((stored) => {
      const read = readPolicyDocument(stored.text, stored.version);
      return read.ok ? [] : [new PolicyUnreadableError(stored.subject, read.reason)];
    });
  }

  /** The current policy, for replacing it: an unreadable one is replaced too (its stored text goes to the audit trail). */
  private async beforeReplace(subject: string): Promise<unknown> {
    try {
      return (await this.load(subject)) ?? DEFAULT_POLICY;
    } catch (err) {
      if (!(err instanceof PolicyUnreadableError)) throw err;
      return { unreadable: (await this.policies.get(subject))?.text ?? null, reason: err.reason };
    }
  }

  async baseline(): Promise<SecurityPolicy> {
    return (await this.load(BASELINE_SUBJECT)) ?? DEFAULT_POLICY;
  }

  async forOrganization(organizationId: string): Promise<{ active: boolean; policy: SecurityPolicy }> {
    const [policy, verified] = await Promise.all([this.load(organizationId), this.claims.verifiedDomainsOf(organizationId)]);
    return { active: verified.length > 0, policy: policy ?? DEFAULT_POLICY };
  }

  async effectiveFor(account: Pick<AccountRecord, 'email'>): Promise<EffectivePolicy> {
    return this.effectiveFrom(account.email, await this.policies.governing(emailDomain(account.email)));
  }

  /**
   * An account and the policy that governs it, read together in one statement (findAccount, on every
   * token, userinfo and sign-in request). Never cached, like effectiveFor.
   */
  async accountWithPolicy(accountId: string): Promise<{ account: AccountRecord; effective: EffectivePolicy } | undefined> {
    const found = await this.policies.accountWithGoverning(accountId);
    if (!found) return undefined;
    const { account } = found;
    // The stored email_domain is written with the email; should they ever differ, the email decides.
    const governing = found.domain === emailDomain(account.email) ? found.governing : await this.policies.governing(emailDomain(account.email));
    return { account, effective: this.effectiveFrom(account.email, governing) };
  }

  private effectiveFrom(email: string, { claim, organization, baseline }: GoverningDocuments): EffectivePolicy {
    return effectivePolicy({
      email,
      verifiedClaim: claim,
      organizationPolicy: this.parse(organization),
      baseline: this.parse(baseline) ?? DEFAULT_POLICY,
      defaults: DEFAULT_POLICY,
    });
  }

  /**
   * effectiveFor of many accounts (a page of an admin list) in three reads whatever their number: the
   * verified claims on their domains, the policies of those claims' organizations, and the baseline.
   * Read now, like effectiveFor; an unreadable policy throws as it does there.
   */
  /**
   * For each account: whether its password expires at or before `by` (epoch seconds) under the policy
   * that governs it now (an expired one included); false where that policy lets passwords never expire.
   */
  async passwordsExpiringBy(accounts: ReadonlyArray<Pick<AccountRecord, 'email' | 'passwordChangedAt'>>, by: number): Promise<boolean[]> {
    const effective = await this.effectiveForMany(accounts);
    return accounts.map((a, i) => {
      const at = passwordExpiresAt(effective[i]!.policy.password, a.passwordChangedAt);
      return at !== null && at <= by;
    });
  }

  async effectiveForMany(accounts: ReadonlyArray<Pick<AccountRecord, 'email'>>): Promise<EffectivePolicy[]> {
    const claims = await this.claims.findVerifiedMany([...new Set(accounts.map((a) => emailDomain(a.email)))]);
    const stored = await this.policies.getMany([...new Set([...claims.values()].map((c) => c.organizationId)), BASELINE_SUBJECT]);
    // parse keeps what it read by the stored text, so each distinct document is read once.
    const policy = (subject: string) => this.parse(stored.get(subject));
    const baseline = policy(BASELINE_SUBJECT) ?? DEFAULT_POLICY;
    return accounts.map((a) => {
      const claim = claims.get(emailDomain(a.email));
      return effectivePolicy({ email: a.email, verifiedClaim: claim, organizationPolicy: claim ? policy(claim.organizationId) : undefined, baseline, defaults: DEFAULT_POLICY });
    });
  }

  /**
   * The organization whose audit trail events about this user belong in: the one whose policy governs
   * them, else (a baseline user) the one they are a member of. An organization that administers a user
   * reaches them by one of these two (policy/authorization.ts), so its trail has the event.
   */
  async organizationOf(account: Pick<AccountRecord, 'email' | 'organizationId'>): Promise<string | null> {
    return (await this.effectiveFor(account)).organizationId ?? account.organizationId;
  }

  /** Every password rule the candidate breaks under the policy that governs `owner`'s email. */
  async passwordViolations(owner: PasswordOwner, candidate: string): Promise<PasswordViolation[]> {
    const { policy } = await this.effectiveFor(owner);
    return checkPassword(policy.password, candidate, owner);
  }

  /** How many accounts have an email address on `domain` (those a claim on it governs once verified). */
  async accountsOnDomain(domain: string): Promise<number> {
    return (await this.accounts.listByDomains([domain])).length;
  }

  /** The users an organization's policy governs now: accounts on its verified domains. */
  private async governed(organizationId: string): Promise<AccountRecord[]> {
    return this.accounts.listByDomains(await this.claims.verifiedDomainsOf(organizationId));
  }

  /** What a candidate policy would do, before it is saved. */
  async preview(organizationId: string, candidate: SecurityPolicy, request: RequestInfo): Promise<PolicyPreview> {
    const users = await this.governed(organizationId);
    const now = nowSeconds();
    const days = candidate.password.expirationDays;
    const whitelist = candidate.login.ipWhitelist;
    return {
      governedUsers: users.length,
      mustChangePassword: days === null ? 0 : users.filter((u) => u.passwordChangedAt + days * 86400 <= now).length,
      mustEnroll2fa: candidate.authentication.enforce2fa ? await this.factors.countWithoutFactor(users.map((u) => u.id)) : 0,
      callerAddress: request.ip,
      callerOutsideWhitelist: whitelist.enabled && !(request.ip !== null && ipInList(request.ip, whitelist.cidrs)),
    };
  }

  private guardLockout(candidate: SecurityPolicy, caller: PolicyCaller, confirmLockout: boolean): void {
    const { enabled, cidrs } = candidate.login.ipWhitelist;
    // Only people sign in through the whitelist; machine clients are not locked out by it.
    if (!enabled || confirmLockout || caller.actor.type !== 'user') return;
    if (caller.request.ip === null || !ipInList(caller.request.ip, cidrs)) {
      throw new ConflictError(
        `the IP whitelist does not include your current address (${caller.request.ip ?? 'unknown'}); send "confirmLockout": true to save it anyway`,
      );
    }
  }

  private async save(subject: string, organizationId: string | null, next: SecurityPolicy, before: unknown, caller: PolicyCaller) {
    const by = caller.actor.type === 'anonymous' ? 'anonymous' : `${caller.actor.type}:${caller.actor.id}`;
    await this.policies.put(subject, next, POLICY_DOCUMENT_VERSION, by, nowSeconds());
    await this.audit.record(subject === BASELINE_SUBJECT ? 'baseline_policy.updated' : 'security_policy.updated', {
      actor: caller.actor,
      organizationId,
      target: { type: 'security_policy', id: subject },
      request: caller.request,
      data: { before, after: next },
    });
  }

  private static valid(result: ReturnType<typeof validatePolicy>): SecurityPolicy {
    if (!result.ok) throw new ValidationError(result.errors);
    return result.policy;
  }

  /** PUT (replace) or PATCH (merge) an organization's policy. Invalid input stores nothing. */
  async update(organizationId: string, mode: 'replace' | 'merge', input: unknown, caller: PolicyCaller, confirmLockout = false) {
    // PATCH merges into the stored policy, so it needs a readable one; PUT replaces even an unreadable one.
    const before = mode === 'replace' ? await this.beforeReplace(organizationId) : ((await this.load(organizationId)) ?? DEFAULT_POLICY);
    const next = PolicyService.valid(mode === 'replace' ? validatePolicy(input) : mergePolicy(before as SecurityPolicy, input));
    this.guardLockout(next, caller, confirmLockout);
    await this.save(organizationId, organizationId, next, before, caller);
    return this.forOrganization(organizationId);
  }

  async updateBaseline(input: unknown, caller: PolicyCaller): Promise<SecurityPolicy> {
    const before = await this.beforeReplace(BASELINE_SUBJECT);
    const next = PolicyService.valid(validatePolicy(input));
    await this.save(BASELINE_SUBJECT, null, next, before, caller);
    return next;
  }

  /** Validates a candidate for preview: PUT semantics (a complete document, defaults filled). */
  candidate(input: unknown): SecurityPolicy {
    return PolicyService.valid(validatePolicy(input));
  }
}
