import { emailDomain } from '../policy/effective-policy.js';
import {
  authorize,
  organizationReaches,
  type AccountAction,
  type AccountFacts,
  type AuthorizationRequest,
  type Decision,
  type OrganizationAction,
  type PlatformAction,
  type PrincipalFacts,
} from '../policy/authorization.js';
import type { AccountRecord, OrgRole } from '../stores/sql/accounts.js';
import type { DomainClaimStore } from '../stores/sql/domain-claims.js';
import type { AccountSearch, MemberRecord, MembershipStore } from '../stores/sql/memberships.js';
import { normalizeEmail } from './accounts.js';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.js';

/** Who is asking: the platform admin, or a signed-in user with their current membership. */
export type Caller = { kind: 'platform' } | { kind: 'user'; account: Pick<AccountRecord, 'organizationId' | 'orgRole'> };

/** What the caller wants to do, naming its target; the loader turns it into facts for policy/authorization. */
export type Target =
  | { action: PlatformAction }
  | { action: OrganizationAction; organizationId: string }
  | { action: AccountAction; userId: string }
  | { action: 'user.create'; email: string; organizationId: string | null }
  | { action: 'member.set'; organizationId: string; userId: string; role: OrgRole }
  | { action: 'member.remove'; organizationId: string; userId: string };

type AccountTarget = Extract<Target, { userId: string }>;

export const principalFacts = (c: Caller): PrincipalFacts =>
  c.kind === 'platform' ? { kind: 'platform' } : { kind: 'user', organizationId: c.account.organizationId, role: c.account.orgRole };

/** A refusal as the error the admin API (and the CLI or a console) maps to 403, 404 or 409. */
function enforce(decision: Decision): void {
  switch (decision.outcome) {
    case 'allow':
      return;
    case 'forbidden':
      throw new ForbiddenError(decision.reason, decision.text);
    case 'not-found':
      throw new NotFoundError(decision.what);
    case 'conflict':
      throw new ConflictError(decision.reason, decision.text);
  }
}

/**
 * Gathers the facts policy/authorization.ts decides on: the principal's organization and role, the
 * target account's membership and who made it, and which organization holds a verified claim on the
 * target's email domain (read now, never cached: a revoked claim stops giving reach at once). Every
 * admin route calls `require` (or `list` for lists) before it acts.
 */
export class AuthorizationService {
  constructor(
    private readonly memberships: MembershipStore,
    private readonly claims: DomainClaimStore,
  ) {}

  private async governedBy(email: string, cache?: Map<string, Promise<string | null>>): Promise<string | null> {
    const domain = emailDomain(email);
    const lookup = cache?.get(domain) ?? this.claims.findVerified(domain).then((c) => c?.organizationId ?? null);
    cache?.set(domain, lookup);
    return lookup;
  }

  private async facts(m: MemberRecord, cache?: Map<string, Promise<string | null>>): Promise<AccountFacts> {
    return {
      governedBy: await this.governedBy(m.account.email, cache),
      organizationId: m.account.organizationId,
      role: m.account.orgRole,
      addedByPlatform: m.account.organizationId !== null && m.addedBy === 'platform',
      platformAdmin: m.account.platformAdmin,
    };
  }

  /** The facts about the target, as the request policy/authorization.ts decides on. */
  private async request(target: Target): Promise<{ request: AuthorizationRequest; account?: AccountRecord }> {
    if (!('userId' in target)) {
      if (target.action !== 'user.create') return { request: target };
      const email = normalizeEmail(target.email);
      // An address that is not one is on nobody's verified domain; the platform admin then gets the 400.
      const governedBy = email ? await this.governedBy(email) : null;
      return { request: { action: 'user.create', organizationId: target.organizationId, governedBy } };
    }
    const member = await this.memberships.find(target.userId);
    const account = member ? await this.facts(member) : null;
    const found = member?.account;
    switch (target.action) {
      case 'member.set':
      case 'member.remove': {
        const owners = await this.memberships.ownerCount(target.organizationId);
        const request: AuthorizationRequest =
          target.action === 'member.set'
            ? { action: 'member.set', organizationId: target.organizationId, role: target.role, account, owners }
            : { action: 'member.remove', organizationId: target.organizationId, account, owners };
        return { request, account: found };
      }
      default:
        return { request: { action: target.action, account }, account: found };
    }
  }

  /** Throws ForbiddenError (403), NotFoundError (404) or ConflictError (409) unless the caller may; returns the target account. */
  async require(caller: Caller, target: AccountTarget): Promise<AccountRecord>;
  async require(caller: Caller, target: Target): Promise<void>;
  async require(caller: Caller, target: Target): Promise<AccountRecord | void> {
    const { request, account } = await this.request(target);
    enforce(authorize(principalFacts(caller), request));
    return account;
  }

  /**
   * One page of the accounts the caller may read, in id order (`cursor`: the last id of the previous
   * page). `organizationId` lists that organization's members; without it, a platform admin sees every
   * account and an organization admin every account their organization reaches. `reachedBy` keeps
   * only the accounts that organization reaches (a platform admin on one organization's page). Each account is
   * passed through the same decision as a single read, so lists never show what a read would refuse.
   */
  async list(
    caller: Caller,
    filter: {
      organizationId?: string;
      reachedBy?: string;
      email?: string;
      /** Narrows the candidates in the database (stores/sql/memberships.ts AccountSearch). */
      search?: AccountSearch;
      /** A last test on the accounts the caller may read, one answer per account (what SQL cannot tell, such as the governing policy's password expiry). */
      accept?: (accounts: AccountRecord[]) => Promise<boolean[]>;
      cursor?: string;
      limit: number;
    },
  ) {
    const own = caller.kind === 'user' ? caller.account.organizationId : null;
    const reach = filter.reachedBy;
    const organizationId = filter.organizationId ?? reach ?? (caller.kind === 'user' ? (own ?? '') : undefined);
    if (organizationId !== undefined) await this.require(caller, { action: 'members.list', organizationId });
    if (reach !== undefined && reach !== organizationId) await this.require(caller, { action: 'members.list', organizationId: reach });
    const email = filter.email === undefined ? undefined : normalizeEmail(filter.email);
    if (email === null) return { items: [] as AccountRecord[], nextCursor: null };

    const scope =
      organizationId === undefined
        ? undefined
        : { organizationId, domains: filter.organizationId === undefined ? await this.claims.verifiedDomainsOf(organizationId) : [] };
    const principal = principalFacts(caller);
    const cache = new Map<string, Promise<string | null>>();
    const items: AccountRecord[] = [];
    let afterId = filter.cursor;
    // Fetch until a page and one more are readable, or the candidates run out.
    for (;;) {
      const batch = await this.memberships.list({ scope, email, search: filter.search, afterId, limit: filter.limit + 1 });
      // Who governs each domain of the batch, in one read (a page of a million accounts spans dozens of domains).
      const unknown = [...new Set(batch.map((m) => emailDomain(m.account.email)))].filter((d) => !cache.has(d));
      const claims = await this.claims.findVerifiedMany(unknown);
      for (const d of unknown) cache.set(d, Promise.resolve(claims.get(d)?.organizationId ?? null));
      const readable: AccountRecord[] = [];
      for (const m of batch) {
        const facts = await this.facts(m, cache);
        const decision = authorize(principal, { action: 'user.read', account: facts });
        if (decision.outcome === 'allow' && (reach === undefined || organizationReaches(reach, facts))) readable.push(m.account);
      }
      const accepted = filter.accept && readable.length ? await filter.accept(readable) : undefined;
      items.push(...(accepted ? readable.filter((_, i) => accepted[i]) : readable));
      if (items.length > filter.limit || batch.length <= filter.limit) break;
      afterId = batch[batch.length - 1]!.account.id;
    }
    const more = items.length > filter.limit;
    const page = more ? items.slice(0, filter.limit) : items;
    return { items: page, nextCursor: more ? page[page.length - 1]!.id : null };
  }
}
