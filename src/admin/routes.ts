import { NotFoundError, ValidationError } from '../services/errors.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import type { ClientRecord } from '../stores/sql/clients.js';
import type { OrganizationRecord } from '../stores/sql/organizations.js';
import { requireOrgAdmin, requirePlatform, type Principal } from './auth.js';
import type { Services } from '../services/index.js';
import { passwordExpiresAt } from '../policy/password-rules.js';
import { problems } from './problem.js';
import type { AdminRoute } from './route.js';
import * as s from './schemas.js';


const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const orgView = (o: OrganizationRecord) => ({ id: o.id, name: o.name, createdAt: iso(o.createdAt) });
const memberView = (a: AccountRecord) => ({ userId: a.id, email: a.email, name: a.name, role: a.orgRole! });
/** A user as the API shows it; the password's expiry comes from the policy that governs them now. */
export async function userView(a: AccountRecord, services: Services) {
  const { policy } = await services.policies.effectiveFor(a);
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
    createdAt: iso(a.createdAt),
  };
}
const clientView = (c: ClientRecord) => ({
  client_id: c.clientId,
  client_name: c.clientName,
  session_type: c.sessionType,
  first_party: c.firstParty,
  redirect_uris: (c.metadata.redirect_uris as string[]) ?? [],
  post_logout_redirect_uris: (c.metadata.post_logout_redirect_uris as string[]) ?? [],
  token_endpoint_auth_method: c.metadata.token_endpoint_auth_method as string,
  created_at: iso(c.createdAt),
});

const problem = (description: string) => ({ description, schema: s.problemSchema });
const common = { 400: problem('Invalid request'), 401: problem('No valid token'), 403: problem('Not allowed') };
const withNotFound = { ...common, 404: problem('Not found') };

/** The organization, if the principal may administer it (403 otherwise, 404 when it does not exist). */
async function reachOrganization(p: Principal, services: Services, orgId: string) {
  requireOrgAdmin(p, orgId);
  return services.organizations.get(orgId);
}

/** Users a principal may see: platform admins all, organization admins their organization's members. */
async function visibleUser(p: Principal, services: Services, userId: string): Promise<AccountRecord> {
  const account = await services.accounts.findById(userId);
  if (!account) throw new NotFoundError('user');
  if (p.kind === 'platform') return account;
  if (!account.organizationId) throw problems.forbidden('the user is not in your organization');
  requireOrgAdmin(p, account.organizationId);
  return account;
}

export const adminRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/organizations',
    summary: 'Create an organization',
    tag: 'Organizations',
    access: 'platform',
    body: s.newOrganizationSchema,
    responses: { 201: { description: 'Created', schema: s.organizationSchema }, ...common },
    async handler({ principal, body, services, request }) {
      requirePlatform(principal);
      return { status: 201, body: orgView(await services.organizations.create(body.name, principal.actor, request)) };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}',
    summary: 'Read an organization',
    tag: 'Organizations',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The organization', schema: s.organizationSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      return { status: 200, body: orgView(await reachOrganization(principal, services, params.orgId!)) };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}/members',
    summary: 'List members',
    tag: 'Organizations',
    access: 'platform or organization admin',
    query: s.userListQuery.pick({ cursor: true, limit: true }),
    responses: { 200: { description: 'One page of members', schema: s.page(s.memberSchema) }, ...withNotFound },
    async handler({ principal, params, query, services }) {
      await reachOrganization(principal, services, params.orgId!);
      const result = await services.accounts.list({ organizationId: params.orgId!, cursor: query.cursor, limit: query.limit });
      return { status: 200, body: { items: result.items.map(memberView), nextCursor: result.nextCursor } };
    },
  },
  {
    method: 'post',
    path: '/organizations/{orgId}/members',
    summary: 'Add a user to the organization, or change their role',
    tag: 'Organizations',
    access: 'platform or organization admin',
    body: s.newMemberSchema,
    responses: { 200: { description: 'The member', schema: s.memberSchema }, ...withNotFound, 409: problem('The user belongs to another organization') },
    async handler({ principal, params, body, services, request }) {
      requireOrgAdmin(principal, params.orgId!);
      if (body.role === 'owner' && principal.kind === 'user' && principal.account.orgRole !== 'owner') {
        throw problems.forbidden('only an owner can make another owner');
      }
      return { status: 200, body: memberView(await services.organizations.addMember(params.orgId!, body.userId, body.role, principal.actor, request)) };
    },
  },
  {
    method: 'delete',
    path: '/organizations/{orgId}/members/{userId}',
    summary: 'Remove a member',
    tag: 'Organizations',
    access: 'platform or organization admin',
    responses: { 204: { description: 'Removed' }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      requireOrgAdmin(principal, params.orgId!);
      await services.organizations.removeMember(params.orgId!, params.userId!, principal.actor, request);
      return { status: 204 };
    },
  },
  {
    method: 'post',
    path: '/organizations/{orgId}/domains',
    summary: 'Claim a domain; returns the DNS TXT record that proves ownership',
    tag: 'Domains',
    access: 'platform or organization admin',
    body: s.newDomainSchema,
    responses: { 201: { description: 'Pending claim', schema: s.domainClaimSchema }, ...withNotFound, 409: problem('Already claimed by this organization') },
    async handler({ principal, params, body, services, request }) {
      await reachOrganization(principal, services, params.orgId!);
      return { status: 201, body: await services.domains.add(params.orgId!, body.domain, principal.actor, request) };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}/domains',
    summary: 'List domain claims',
    tag: 'Domains',
    access: 'platform or organization admin',
    responses: { 200: { description: 'Claims', schema: s.page(s.domainClaimSchema) }, ...withNotFound },
    async handler({ principal, params, services }) {
      await reachOrganization(principal, services, params.orgId!);
      return { status: 200, body: { items: await services.domains.list(params.orgId!), nextCursor: null } };
    },
  },
  {
    method: 'post',
    path: '/organizations/{orgId}/domains/{domain}/verify',
    summary: 'Check the DNS TXT record and verify the claim',
    tag: 'Domains',
    access: 'platform or organization admin',
    body: s.verifyDomainSchema,
    responses: {
      200: { description: 'Verified claim', schema: s.domainClaimSchema },
      ...withNotFound,
      422: problem('The TXT record was not found or does not match; `expected` shows the record to create'),
    },
    async handler({ principal, params, body, services, request }) {
      requireOrgAdmin(principal, params.orgId!);
      if (body.force) requirePlatform(principal);
      return { status: 200, body: await services.domains.verify(params.orgId!, params.domain!, { force: body.force }, principal.actor, request) };
    },
  },
  {
    method: 'delete',
    path: '/organizations/{orgId}/domains/{domain}',
    summary: 'Revoke a domain claim (the policy stops applying; nothing is deleted)',
    tag: 'Domains',
    access: 'platform or organization admin',
    responses: { 200: { description: 'Revoked claim', schema: s.domainClaimSchema }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      requireOrgAdmin(principal, params.orgId!);
      const reason = principal.kind === 'platform' ? 'revoked-by-platform-admin' : 'revoked-by-organization';
      return { status: 200, body: await services.domains.revoke(params.orgId!, params.domain!, reason, principal.actor, request) };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}/security-policy',
    summary: 'Read the security policy (every field)',
    tag: 'Security policy',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The policy and whether it is in force', schema: s.policyEnvelopeSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      await reachOrganization(principal, services, params.orgId!);
      return { status: 200, body: await services.policies.forOrganization(params.orgId!) };
    },
  },
  ...(['put', 'patch'] as const).map(
    (method): AdminRoute => ({
      method,
      path: '/organizations/{orgId}/security-policy',
      summary: method === 'put' ? 'Replace the security policy (omitted fields return to defaults)' : 'Change some fields of the security policy',
      tag: 'Security policy',
      access: 'platform or organization admin',
      body: s.policyUpdateSchema,
      bodyDoc: s.policyUpdateDocSchema,
      responses: {
        200: { description: 'The saved policy', schema: s.policyEnvelopeSchema },
        ...withNotFound,
        409: problem('The IP whitelist would exclude your current address; resend with confirmLockout'),
      },
      async handler({ principal, params, body, services, request }) {
        await reachOrganization(principal, services, params.orgId!);
        const mode = method === 'put' ? 'replace' : 'merge';
        return {
          status: 200,
          body: await services.policies.update(params.orgId!, mode, body.policy, { actor: principal.actor, request }, body.confirmLockout),
        };
      },
    }),
  ),
  {
    method: 'post',
    path: '/organizations/{orgId}/security-policy/preview',
    summary: 'What a candidate policy would do, before saving it',
    tag: 'Security policy',
    access: 'platform or organization admin',
    body: s.previewSchema,
    bodyDoc: s.previewDocSchema,
    responses: { 200: { description: 'Impact', schema: s.previewResultSchema }, ...withNotFound },
    async handler({ principal, params, body, services, request }) {
      await reachOrganization(principal, services, params.orgId!);
      return { status: 200, body: await services.policies.preview(params.orgId!, services.policies.candidate(body.policy), request) };
    },
  },
  {
    method: 'get',
    path: '/baseline-policy',
    summary: 'Read the baseline policy (users of unclaimed domains)',
    tag: 'Security policy',
    access: 'platform',
    responses: { 200: { description: 'The baseline', schema: s.baselineSchema }, ...common },
    async handler({ principal, services }) {
      requirePlatform(principal);
      return { status: 200, body: { policy: await services.policies.baseline() } };
    },
  },
  {
    method: 'put',
    path: '/baseline-policy',
    summary: 'Replace the baseline policy',
    tag: 'Security policy',
    access: 'platform',
    body: s.baselineUpdateSchema,
    bodyDoc: s.baselineSchema,
    responses: { 200: { description: 'The saved baseline', schema: s.baselineSchema }, ...common },
    async handler({ principal, body, services, request }) {
      requirePlatform(principal);
      return { status: 200, body: { policy: await services.policies.updateBaseline(body.policy, { actor: principal.actor, request }) } };
    },
  },
  {
    method: 'post',
    path: '/users',
    summary: 'Create a user',
    tag: 'Users',
    access: 'platform or organization admin',
    body: s.newUserSchema,
    responses: { 201: { description: 'Created', schema: s.userSchema }, ...common, 409: problem('The email is taken') },
    async handler({ principal, body, services, request }) {
      if (principal.kind === 'user') {
        if (!body.organizationId) throw problems.forbidden('organization admins create users in their own organization: set organizationId');
        requireOrgAdmin(principal, body.organizationId);
      }
      if (body.organizationId) {
        await services.organizations.get(body.organizationId).catch(() => {
          throw new ValidationError([{ field: 'organizationId', message: 'no such organization' }]);
        });
      }
      const account = await services.accounts.create(body);
      await services.audit.record('user.created', {
        actor: principal.actor,
        organizationId: account.organizationId,
        target: { type: 'user', id: account.id },
        request,
        data: { after: { email: account.email, name: account.name, organizationId: account.organizationId } },
      });
      return { status: 201, body: await userView(account, services) };
    },
  },
  {
    method: 'get',
    path: '/users',
    summary: 'Find users',
    tag: 'Users',
    access: 'platform or organization admin',
    query: s.userListQuery,
    responses: { 200: { description: 'One page of users', schema: s.page(s.userSchema) }, ...common },
    async handler({ principal, query, services }) {
      let organizationId: string | undefined = query.organizationId;
      if (principal.kind === 'user') {
        organizationId ??= principal.account.organizationId ?? undefined;
        if (!organizationId) throw problems.forbidden('you are not an owner or admin of an organization');
        requireOrgAdmin(principal, organizationId);
      }
      const result = await services.accounts.list({ email: query.email, organizationId, cursor: query.cursor, limit: query.limit });
      return { status: 200, body: { items: await Promise.all(result.items.map((u) => userView(u, services))), nextCursor: result.nextCursor } };
    },
  },
  {
    method: 'get',
    path: '/users/{userId}',
    summary: 'Read a user',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      return { status: 200, body: await userView(await visibleUser(principal, services, params.userId!), services) };
    },
  },
  {
    method: 'get',
    path: '/users/{userId}/effective-policy',
    summary: 'The policy in force for a user, and where it comes from',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'Effective policy', schema: s.effectivePolicySchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      const account = await visibleUser(principal, services, params.userId!);
      return { status: 200, body: await services.policies.effectiveFor(account) };
    },
  },
  ...(['disable', 'enable'] as const).map(
    (action): AdminRoute => ({
      method: 'post',
      path: `/users/{userId}/${action}`,
      summary: action === 'disable' ? 'Disable a user (sign-in and token refresh stop)' : 'Enable a user',
      tag: 'Users',
      access: 'platform or organization admin',
      responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
      async handler({ principal, params, services, request }) {
        const before = await visibleUser(principal, services, params.userId!);
        const after = await services.accounts.setStatus(before.id, action === 'disable' ? 'disabled' : 'active');
        await services.audit.record(`user.${action}d`, {
          actor: principal.actor,
          organizationId: before.organizationId,
          target: { type: 'user', id: before.id },
          request,
          data: { before: { status: before.status }, after: { status: after.status } },
        });
        return { status: 200, body: await userView(after, services) };
      },
    }),
  ),
  {
    method: 'post',
    path: '/users/{userId}/password-reset',
    summary: 'Email the user a link to choose a new password; optionally require a new one at the next sign-in',
    tag: 'Users',
    access: 'platform or organization admin',
    body: s.passwordResetSchema,
    responses: { 202: { description: 'The email is on its way', schema: s.passwordResetResultSchema }, ...withNotFound },
    async handler({ principal, params, body, services, request }) {
      const account = await visibleUser(principal, services, params.userId!);
      await services.passwordResets.adminReset(account, body.requireChangeAtNextSignIn, principal.actor, request);
      return { status: 202, body: { emailedTo: account.email, requireChangeAtNextSignIn: body.requireChangeAtNextSignIn } };
    },
  },
  {
    method: 'post',
    path: '/clients',
    summary: 'Register an OIDC client',
    tag: 'Clients',
    access: 'platform',
    body: s.newClientSchema,
    responses: { 201: { description: 'Created; client_secret is shown once', schema: s.createdClientSchema }, ...common },
    async handler({ principal, body, services, request }) {
      requirePlatform(principal);
      const { client, clientSecret } = await services.clients.create({
        clientName: body.client_name,
        sessionType: body.session_type,
        redirectUris: body.redirect_uris,
        postLogoutRedirectUris: body.post_logout_redirect_uris,
        backchannelLogoutUri: body.backchannel_logout_uri,
        thirdParty: body.third_party,
      });
      await services.audit.record('client.created', {
        actor: principal.actor,
        target: { type: 'client', id: client.clientId },
        request,
        data: { after: clientView(client) },
      });
      return { status: 201, body: { ...clientView(client), ...(clientSecret ? { client_secret: clientSecret } : {}) } };
    },
  },
  {
    method: 'get',
    path: '/clients/{clientId}',
    summary: 'Read a client',
    tag: 'Clients',
    access: 'platform',
    responses: { 200: { description: 'The client', schema: s.clientSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      requirePlatform(principal);
      return { status: 200, body: clientView(await services.clients.get(params.clientId!)) };
    },
  },
  {
    method: 'delete',
    path: '/clients/{clientId}',
    summary: 'Delete a client (its tokens stop working)',
    tag: 'Clients',
    access: 'platform',
    responses: { 204: { description: 'Deleted' }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      requirePlatform(principal);
      const before = await services.clients.get(params.clientId!);
      await services.clients.remove(params.clientId!);
      await services.audit.record('client.deleted', {
        actor: principal.actor,
        target: { type: 'client', id: before.clientId },
        request,
        data: { before: clientView(before), after: null },
      });
      return { status: 204 };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}/events',
    summary: 'The organization\'s audit trail, newest first',
    tag: 'Audit',
    access: 'platform or organization admin',
    query: s.eventQuery,
    responses: { 200: { description: 'One page of events', schema: s.page(s.eventSchema) }, ...withNotFound },
    async handler({ principal, params, query, services }) {
      await reachOrganization(principal, services, params.orgId!);
      const items = await services.audit.list({
        organizationId: params.orgId!,
        types: query.type ? String(query.type).split(',').map((t: string) => t.trim()).filter(Boolean) : undefined,
        sinceMs: query.since ? Date.parse(query.since) : undefined,
        untilMs: query.until ? Date.parse(query.until) : undefined,
        beforeId: query.cursor ? Number(query.cursor) : undefined,
        limit: query.limit + 1,
      });
      const more = items.length > query.limit;
      const pageItems = more ? items.slice(0, query.limit) : items;
      return { status: 200, body: { items: pageItems, nextCursor: more ? pageItems[pageItems.length - 1]!.id : null } };
    },
  },
];
