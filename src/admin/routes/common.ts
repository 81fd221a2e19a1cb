import type { Services } from '../../services/index.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import type { ClientRecord } from '../../stores/sql/clients.js';
import type { OrganizationRecord } from '../../stores/sql/organizations.js';
import { passwordExpiresAt } from '../../policy/password-rules.js';
import type { SecurityPolicy } from '../../policy/security-policy.js';
import { enrolledFactors, hasSecondFactor, type FactorRecord } from '../../stores/factors.js';
import type { OrganizationAction } from '../../policy/authorization.js';
import type { Principal } from '../auth.js';
import type { HandlerContext } from '../route.js';
import * as s from '../schemas.js';

/** Views, response sets and access checks shared by the admin routes. */
export const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
export const orgView = (o: OrganizationRecord) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) });
export const memberView = (a: AccountRecord) => ({ userId: a.id, email: a.email, name: a.name, role: a.orgRole! });
/** A second factor as the API shows it: never its secret, public key or credential ID. */
export const factorView = (f: FactorRecord) => ({
  id: f.id,
  kind: f.kind,
  label: f.label,
  createdAt: iso(f.createdAt),
  lastUsedAt: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
  ...(f.kind === 'passkey' ? { deviceType: f.deviceType } : {}),
});
/** A user as the API shows it; the password's expiry comes from the policy that governs them now. */
export async function userView(a: AccountRecord, services: Services) {
  const [{ policy }, factors] = await Promise.all([services.policies.effectiveFor(a), services.twoFactor.list(a.id)]);
  return viewOf(a, policy, factors);
}

/**
 * Users as userView shows each, for one page of a list, in a fixed number of reads whatever the page
 * holds: every account's factors in one query, and the governing policies in three (services/policies
 * effectiveForMany), read now for this request only. Per user, the page cost four queries; fifty users, two hundred.
 */
export async function userViews(accounts: readonly AccountRecord[], services: Services) {
  const [byAccount, effective] = await Promise.all([services.twoFactor.listMany(accounts.map((a) => a.id)), services.policies.effectiveForMany(accounts)]);
  return accounts.map((a, i) => viewOf(a, effective[i]!.policy, byAccount.get(a.id) ?? []));
}

function viewOf(a: AccountRecord, policy: SecurityPolicy, factors: readonly FactorRecord[]) {
  const expiresAt = passwordExpiresAt(policy.password, a.passwordChangedAt);
  return {
    id: a.id,
    email: a.email,
    name: a.name,
    status: a.status,
    organizationId: a.organizationId,
    role: a.orgRole,
    passwordChangedAt: iso(a.passwordChangedAt),
    passwordExpiresAt: expiresAt === null ? null : iso(expiresAt),
    mustChangePassword: a.mustChangePassword,
    twoFactorEnabled: hasSecondFactor(enrolledFactors(factors)),
    factors: factors.map(factorView),
    emailVerified: a.emailVerifiedAt !== null,
    lockedUntil: a.lockedUntil !== null && a.lockedUntil > Date.now() / 1000 ? iso(a.lockedUntil) : null,
    platformAdmin: a.platformAdmin,
    createdAt: iso(a.createdAt),
  };
}
export const clientView = (c: ClientRecord) => ({
  client_id: c.clientId,
  client_name: c.clientName,
  session_type: c.sessionType,
  first_party: c.firstParty,
  redirect_uris: (c.metadata.redirect_uris as string[]) ?? [],
  post_logout_redirect_uris: (c.metadata.post_logout_redirect_uris as string[]) ?? [],
  backchannel_logout_uri: (c.metadata.backchannel_logout_uri as string | undefined) ?? null,
  token_endpoint_auth_method: c.metadata.token_endpoint_auth_method as string,
  created_at: iso(c.createdAt),
});

export const problem = (description: string) => ({ description, schema: s.problemSchema });
export const common = { 400: problem('Invalid request'), 401: problem('No valid token'), 403: problem('Not allowed') };
export const withNotFound = { ...common, 404: problem('Not found') };

/** The organization, if the principal may take `action` in it (403 otherwise, 404 when it does not exist). */
export async function reachOrganization(p: Principal, services: Services, orgId: string, action: OrganizationAction) {
  await services.authorization.require(p, { action, organizationId: orgId });
  return services.organizations.get(orgId);
}

/** The organization whose trail an event about this user belongs in: the one whose policy governs them, else their own. */
export function userOrganization(a: AccountRecord, services: Services): Promise<string | null> {
  return services.policies.organizationOf(a);
}

/** Records an administrator's action on a user, in the trail of the user's organization. */
export async function recordUserEvent(type: string, { principal, services, request }: Pick<HandlerContext, 'principal' | 'services' | 'request'>, account: AccountRecord, data: Record<string, unknown>): Promise<void> {
  await services.audit.record(type, { actor: principal.actor, organizationId: await userOrganization(account, services), target: { type: 'user', id: account.id }, request, data });
}
