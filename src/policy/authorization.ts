/**
 * Who may administer whom (security-policy.md). Pure: services/authorization.ts gathers the facts,
 * every admin route asks this one function, and acts on its answer.
 *
 * - A platform admin reaches everything. Only two things stop them: a target that does not exist
 *   (not-found) and the last owner of an organization (conflict: it cannot be removed or demoted).
 * - An organization's owners and admins reach only their organization, and of accounts only those
 *   their policy governs (emails on their verified domains) plus baseline accounts that a platform
 *   admin made members of it. An account on another organization's verified domain is never reached,
 *   whoever made it a member. They create and add only accounts their policy governs.
 * - Only an owner acts on an owner (makes, demotes, disables, removes, resets, unlocks, enables one).
 * - Only a platform admin changes a platform admin's account or membership: an organization whose domain
 *   a platform admin's address is on reads that account (its policy governs them) but cannot disable,
 *   reset, sign out, demote or remove them.
 * - Plain members, and users in no organization, administer nothing.
 *
 * Existence does not leak: a refusal that depends on who the principal is (not an admin, another
 * organization, platform-only) is `forbidden` (403) before anything is looked up; an account the
 * principal does not reach answers `not-found` (404), exactly like an account that does not exist.
 */
import { m, type Text } from '../i18n/message.js';

export type Role = 'owner' | 'admin' | 'member';

export type PrincipalFacts =
  | { kind: 'platform' }
  | { kind: 'user'; organizationId: string | null; role: Role | null };

/** What the loader knows about an account an action is aimed at. */
export interface AccountFacts {
  /** The organization holding a verified claim on the account's email domain (whose policy governs it), if any. */
  governedBy: string | null;
  /** The organization the account is a member of, and its role there. */
  organizationId: string | null;
  role: Role | null;
  /** Whether a platform admin made that membership (false when an organization did, or when unknown). */
  addedByPlatform: boolean;
  /** Whether the account is a platform administrator's: an organization may read it, never change it. */
  platformAdmin: boolean;
}

/** Actions only the platform admin takes. */
export const PLATFORM_ACTIONS = ['organization.create', 'organization.list', 'baseline.read', 'baseline.write', 'client.manage', 'domain.force-verify', 'events.read-all', 'keys.read', 'keys.rotate'] as const;
/** Actions inside one organization that are not about a particular account. */
export const ORGANIZATION_ACTIONS = [
  'organization.read',
  'members.list',
  'policy.read',
  'policy.write',
  'domains.read',
  'domains.write',
  'events.read',
] as const;
/** Actions on one account; all but user.read change it. */
export const ACCOUNT_ACTIONS = ['user.read', 'user.disable', 'user.enable', 'user.unlock', 'user.reset-2fa', 'user.password-reset', 'user.end-sessions'] as const;

export type PlatformAction = (typeof PLATFORM_ACTIONS)[number];
export type OrganizationAction = (typeof ORGANIZATION_ACTIONS)[number];
export type AccountAction = (typeof ACCOUNT_ACTIONS)[number];

/** The action and the facts about its target. `account: null` means there is no such account. */
export type AuthorizationRequest =
  | { action: PlatformAction }
  | { action: OrganizationAction; organizationId: string }
  | { action: AccountAction; account: AccountFacts | null }
  /** A new account; `governedBy` is the organization holding a verified claim on the new email's domain. */
  | { action: 'user.create'; organizationId: string | null; governedBy: string | null }
  /** Add the account to the organization with `role`, or change its role there; `owners` counts the organization's owners now. */
  | { action: 'member.set'; organizationId: string; role: Role; account: AccountFacts | null; owners: number }
  | { action: 'member.remove'; organizationId: string; account: AccountFacts | null; owners: number };

export type Decision =
  | { outcome: 'allow' }
  /** 403: the principal may not do this. */
  | { outcome: 'forbidden'; reason: string; text?: Text }
  /** 404: no such target, or one the principal does not reach (the same answer, so existence does not leak). */
  | { outcome: 'not-found'; what: 'user' | 'member' }
  /** 409: allowed in principle, but the organization would be left without an owner. */
  | { outcome: 'conflict'; reason: string; text?: Text };

const ALLOW: Decision = { outcome: 'allow' };
/** `reason`: English, for the API; `text`: the same for a person on a page, where one may see it. */
const forbidden = (reason: string, text?: Text): Decision => ({ outcome: 'forbidden', reason, ...(text ? { text } : {}) });
const notFound = (what: 'user' | 'member' = 'user'): Decision => ({ outcome: 'not-found', what });
const LAST_OWNER: Decision = {
  outcome: 'conflict',
  reason: 'the last owner of an organization cannot be removed or demoted; make another owner first',
  text: m('The last owner of an organization cannot be removed or demoted; make another owner first.'),
};
const ONLY_PLATFORM = forbidden(
  'only a platform administrator can change a platform administrator\'s account or membership',
  m('Only a platform administrator can change a platform administrator\'s account or membership.'),
);
const ONLY_OWNERS = forbidden(
  'only an owner can make, demote, disable, reset, sign out or remove an owner',
  m('Only an owner can make, demote, disable, reset, sign out or remove an owner.'),
);

type PlatformRequest = Extract<AuthorizationRequest, { action: PlatformAction }>;
type OrganizationRequest = Extract<AuthorizationRequest, { action: OrganizationAction }>;
const isPlatformRequest = (r: AuthorizationRequest): r is PlatformRequest => (PLATFORM_ACTIONS as readonly string[]).includes(r.action);
const isOrganizationRequest = (r: AuthorizationRequest): r is OrganizationRequest =>
  (ORGANIZATION_ACTIONS as readonly string[]).includes(r.action);

/**
 * Whether organization `orgId` reaches the account: its policy governs it, or it is a baseline account
 * (no organization's verified domain) that a platform admin made a member of `orgId`.
 */
export function organizationReaches(orgId: string, a: AccountFacts): boolean {
  if (a.governedBy !== null) return a.governedBy === orgId;
  return a.organizationId === orgId && a.addedByPlatform;
}

/** Whether this change would leave the organization without an owner. */
function removesLastOwner(organizationId: string, a: AccountFacts, newRole: Role | null, owners: number): boolean {
  return a.organizationId === organizationId && a.role === 'owner' && newRole !== 'owner' && owners <= 1;
}

/** The one authorization decision of the admin API (and of any console built on it). */
export function authorize(principal: PrincipalFacts, request: AuthorizationRequest): Decision {
  if (isPlatformRequest(request)) {
    return principal.kind === 'platform' ? ALLOW : forbidden('this needs the platform administrator');
  }
  if (principal.kind === 'platform') return platformDecision(request);

  const own = principal.organizationId;
  const isOwner = principal.role === 'owner';
  if (own === null || (principal.role !== 'owner' && principal.role !== 'admin')) {
    return forbidden('you are not an owner or admin of an organization');
  }
  const notYours = forbidden('you are not an owner or admin of this organization');

  if (isOrganizationRequest(request)) return request.organizationId === own ? ALLOW : notYours;
  switch (request.action) {
    case 'user.create':
      if (request.organizationId === null) return forbidden('organization admins create users in their own organization: set organizationId');
      if (request.organizationId !== own) return notYours;
      return request.governedBy === own ? ALLOW : forbidden('an organization creates only accounts on its own verified domains');
    case 'member.set': {
      if (request.organizationId !== own) return notYours;
      const a = request.account;
      if (!a || !organizationReaches(own, a)) return notFound();
      if (a.platformAdmin) return ONLY_PLATFORM;
      const touchesOwner = request.role === 'owner' || (a.organizationId === own && a.role === 'owner');
      if (touchesOwner && !isOwner) return ONLY_OWNERS;
      return removesLastOwner(own, a, request.role, request.owners) ? LAST_OWNER : ALLOW;
    }
    case 'member.remove': {
      if (request.organizationId !== own) return notYours;
      const a = request.account;
      if (!a || a.organizationId !== own || !organizationReaches(own, a)) return notFound('member');
      if (a.platformAdmin) return ONLY_PLATFORM;
      if (a.role === 'owner' && !isOwner) return ONLY_OWNERS;
      return removesLastOwner(own, a, null, request.owners) ? LAST_OWNER : ALLOW;
    }
    default: {
      const a = request.account;
      if (!a || !organizationReaches(own, a)) return notFound();
      if (request.action !== 'user.read' && a.platformAdmin) return ONLY_PLATFORM;
      if (request.action !== 'user.read' && a.role === 'owner' && !isOwner) return ONLY_OWNERS;
      return ALLOW;
    }
  }
}

/** The platform admin: everything that exists, short of leaving an organization without an owner. */
function platformDecision(request: Exclude<AuthorizationRequest, PlatformRequest>): Decision {
  switch (request.action) {
    case 'user.create':
      return ALLOW;
    case 'member.set':
      if (!request.account) return notFound();
      return removesLastOwner(request.organizationId, request.account, request.role, request.owners) ? LAST_OWNER : ALLOW;
    case 'member.remove':
      if (!request.account || request.account.organizationId !== request.organizationId) return notFound('member');
      return removesLastOwner(request.organizationId, request.account, null, request.owners) ? LAST_OWNER : ALLOW;
    default:
      if ('account' in request && !request.account) return notFound();
      return ALLOW;
  }
}
