import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { problem, reachOrganization, withNotFound } from './common.js';

/** Domain claims: add, list, verify, revoke. */
export const domainRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/organizations/{orgId}/domains',
    summary: 'Claim a domain; returns the DNS TXT record that proves ownership',
    tag: 'Domains',
    access: 'platform or organization admin',
    body: s.newDomainSchema,
    responses: { 201: { description: 'Pending claim', schema: s.domainClaimSchema }, ...withNotFound, 409: problem('Already claimed by this organization') },
    async handler({ principal, params, body, services, request }) {
      await reachOrganization(principal, services, params.orgId!, 'domains.write');
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
      await reachOrganization(principal, services, params.orgId!, 'domains.read');
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
      await services.authorization.require(principal, { action: 'domains.write', organizationId: params.orgId! });
      if (body.force) await services.authorization.require(principal, { action: 'domain.force-verify' });
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
      await services.authorization.require(principal, { action: 'domains.write', organizationId: params.orgId! });
      const reason = principal.kind === 'platform' ? 'revoked-by-platform-admin' : 'revoked-by-organization';
      return { status: 200, body: await services.domains.revoke(params.orgId!, params.domain!, reason, principal.actor, request) };
    },
  },
];
