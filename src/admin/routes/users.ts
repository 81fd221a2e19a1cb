import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { ValidationError } from '../../services/errors.js';
import { requireOrgAdmin } from '../auth.js';
import { problems } from '../problem.js';
import { common, problem, userOrganization, userView, visibleUser, withNotFound } from './common.js';

/** Users: create, find, read, effective policy, disable/enable, password reset. */
export const userRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/users',
    summary: 'Create a user, with a password or (invite: true) by emailing an invitation link',
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
      const account = await services.invitations.createUser(body, principal.actor, request);
      await services.audit.record('user.created', {
        actor: principal.actor,
        organizationId: await userOrganization(account, services),
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
          organizationId: await userOrganization(before, services),
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
    path: '/users/{userId}/unlock',
    summary: 'Lift a lock left by repeated failed sign-ins',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      const before = await visibleUser(principal, services, params.userId!);
      const after = await services.accounts.unlock(before.id);
      await services.audit.record('user.unlocked', {
        actor: principal.actor,
        organizationId: await userOrganization(before, services),
        target: { type: 'user', id: before.id },
        request,
        data: { before: { failedAttempts: before.failedAttempts, lockedUntil: before.lockedUntil }, after: { failedAttempts: 0, lockedUntil: null } },
      });
      return { status: 200, body: await userView(after, services) };
    },
  },
  {
    method: 'post',
    path: '/users/{userId}/reset-2fa',
    summary: 'Remove the user\'s second factor and recovery codes (lost phone); an enforcing policy enrolls them again at sign-in',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      const account = await visibleUser(principal, services, params.userId!);
      await services.twoFactor.reset(account, principal.actor, request);
      return { status: 200, body: await userView(await services.accounts.get(account.id), services) };
    },
  },
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
];
