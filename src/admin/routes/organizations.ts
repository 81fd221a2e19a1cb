import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { common, memberView, orgView, problem, reachOrganization, withNotFound } from './common.js';

/** Organizations and their members. */
export const organizationRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/organizations',
    summary: 'Create an organization',
    tag: 'Organizations',
    access: 'platform',
    body: s.newOrganizationSchema,
    responses: { 201: { description: 'Created', schema: s.organizationSchema }, ...common },
    async handler({ principal, body, services, request }) {
      await services.authorization.require(principal, { action: 'organization.create' });
      return { status: 201, body: orgView(await services.organizations.create(body.name, principal.actor, request)) };
    },
  },
  {
    method: 'get',
    path: '/organizations',
    summary: 'List organizations in name order (an organization admin sees only their own)',
    tag: 'Organizations',
    access: 'platform or organization admin',
    query: s.organizationListQuery,
    responses: { 200: { description: 'One page of organizations', schema: s.page(s.organizationSchema) }, ...common },
    async handler({ principal, query, services }) {
      let ids: string[] | undefined;
      if (principal.kind === 'platform') {
        await services.authorization.require(principal, { action: 'organization.list' });
      } else {
        const own = principal.account.organizationId ?? '';
        await services.authorization.require(principal, { action: 'organization.read', organizationId: own });
        ids = [own];
      }
      const result = await services.organizations.list({ q: query.q, ids, afterId: query.cursor, limit: query.limit });
      return { status: 200, body: { items: result.items.map(orgView), nextCursor: result.nextCursor } };
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
      return { status: 200, body: orgView(await reachOrganization(principal, services, params.orgId!, 'organization.read')) };
    },
  },
  {
    method: 'get',
    path: '/organizations/{orgId}/members',
    summary: 'List members (an organization admin sees only the members their organization reaches)',
    tag: 'Organizations',
    access: 'platform or organization admin',
    query: s.userListQuery.pick({ cursor: true, limit: true }),
    responses: { 200: { description: 'One page of members', schema: s.page(s.memberSchema) }, ...withNotFound },
    async handler({ principal, params, query, services }) {
      await reachOrganization(principal, services, params.orgId!, 'members.list');
      const result = await services.authorization.list(principal, { organizationId: params.orgId!, cursor: query.cursor, limit: query.limit });
      return { status: 200, body: { items: result.items.map(memberView), nextCursor: result.nextCursor } };
    },
  },
  {
    method: 'post',
    path: '/organizations/{orgId}/members',
    summary:
      'Add a user to the organization, or change their role (organization admins: only users on their verified domains or already their members; only owners make or demote owners; the last owner stays)',
    tag: 'Organizations',
    access: 'platform or organization admin',
    body: s.newMemberSchema,
    responses: {
      200: { description: 'The member', schema: s.memberSchema },
      ...withNotFound,
      409: problem('The user belongs to another organization, or is the last owner'),
    },
    async handler({ principal, params, body, services, request }) {
      await services.authorization.require(principal, { action: 'member.set', organizationId: params.orgId!, userId: body.userId, role: body.role });
      const addedBy = principal.kind === 'platform' ? 'platform' : 'organization';
      return { status: 200, body: memberView(await services.organizations.addMember(params.orgId!, body.userId, body.role, principal.actor, request, addedBy)) };
    },
  },
  {
    method: 'delete',
    path: '/organizations/{orgId}/members/{userId}',
    summary: 'Remove a member (only owners remove owners; the last owner stays)',
    tag: 'Organizations',
    access: 'platform or organization admin',
    responses: { 204: { description: 'Removed' }, ...withNotFound, 409: problem('The member is the last owner') },
    async handler({ principal, params, services, request }) {
      await services.authorization.require(principal, { action: 'member.remove', organizationId: params.orgId!, userId: params.userId! });
      await services.organizations.removeMember(params.orgId!, params.userId!, principal.actor, request);
      return { status: 204 };
    },
  },
];
