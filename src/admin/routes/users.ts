import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { ValidationError } from '../../services/errors.js';
import { EXPIRATION_DAYS } from '../../policy/security-policy.js';
import { nowSeconds } from '../../stores/db.js';
import { common, iso, problem, recordUserEvent, userView, userViews, withNotFound } from './common.js';

/** What ending a user's sessions ended, as the audit event and the answer tell it. */
const endedView = (ended: { sessions: number; grants: number }) => ({ endedSessions: ended.sessions, revokedGrants: ended.grants });

const DAY = 86_400;
/** "Password expiring" in the user search: within this many seconds (the console's 14 days). */
const EXPIRING_WITHIN = 14 * DAY;

/** Users: create, find, read, effective policy, disable/enable, password reset. */
export const userRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/users',
    summary: 'Create a user, with a password or (invite: true) by emailing an invitation link (organization admins: in their organization, on its verified domains only)',
    tag: 'Users',
    access: 'platform or organization admin',
    body: s.newUserSchema,
    responses: { 201: { description: 'Created', schema: s.userSchema }, ...common, 409: problem('The email is taken') },
    async handler({ principal, body, services, request }) {
      // Before anything is looked up or stored: an organization cannot learn whether another's address is taken.
      await services.authorization.require(principal, { action: 'user.create', email: body.email, organizationId: body.organizationId ?? null });
      if (body.organizationId) {
        await services.organizations.get(body.organizationId).catch(() => {
          throw new ValidationError([{ field: 'organizationId', message: 'no such organization' }]);
        });
      }
      const account = await services.invitations.createUser(body, principal.actor, request);
      if (account.organizationId) {
        await services.organizations.setMembershipOrigin(account.id, account.organizationId, principal.kind === 'platform' ? 'platform' : 'organization');
      }
      await recordUserEvent('user.created', { principal, services, request }, account, { after: { email: account.email, name: account.name, organizationId: account.organizationId } });
      return { status: 201, body: await userView(account, services) };
    },
  },
  {
    method: 'get',
    path: '/users',
    summary: 'Find users: search by email or name, filter by state, in pages (organization admins: only the accounts their organization reaches)',
    tag: 'Users',
    access: 'platform or organization admin',
    query: s.userListQuery,
    responses: { 200: { description: 'One page of users', schema: s.page(s.userSchema) }, ...common },
    async handler({ principal, query, services }) {
      const now = nowSeconds();
      const expiring = query.passwordExpiring;
      const result = await services.authorization.list(principal, {
        email: query.email,
        organizationId: query.organizationId,
        reachedBy: query.reachedBy,
        search: {
          q: query.q,
          locked: query.locked === undefined ? undefined : { value: query.locked, now },
          disabled: query.disabled,
          noSecondFactor: query.noSecondFactor,
          // No policy expires a password sooner than the shortest expiry allowed: older ones are the only candidates.
          passwordChangedBefore: expiring ? now + EXPIRING_WITHIN - Math.min(...EXPIRATION_DAYS) * DAY : undefined,
        },
        accept:
          expiring === undefined
            ? undefined
            : async (accounts) => (await services.policies.passwordsExpiringBy(accounts, now + EXPIRING_WITHIN)).map((soon) => soon === expiring),
        cursor: query.cursor,
        limit: query.limit,
      });
      return { status: 200, body: { items: await userViews(result.items, services), nextCursor: result.nextCursor } };
    },
  },
  {
    method: 'get',
    path: '/users/{userId}',
    summary: 'Read a user, with the number of recovery codes they have left',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The user', schema: s.userDetailSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      const account = await services.authorization.require(principal, { action: 'user.read', userId: params.userId! });
      const [view, recoveryCodesLeft] = await Promise.all([userView(account, services), services.twoFactor.recoveryCodesLeft(account.id)]);
      return { status: 200, body: { ...view, recoveryCodesLeft } };
    },
  },
  {
    method: 'get',
    path: '/users/{userId}/sessions',
    summary: 'The user\'s live browser sessions (with the apps signed in through each) and the apps holding refresh tokens without one',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'Sessions and apps', schema: s.userSessionsSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      const account = await services.authorization.require(principal, { action: 'user.read', userId: params.userId! });
      const { sessions, apps } = await services.sessions.devicesOf(account.id);
      const names = await services.clients.namesOf([...sessions.flatMap((x) => x.apps.map((a) => a.clientId)), ...apps.map((a) => a.clientId)]);
      const app = (clientId: string) => ({ clientId, name: names.get(clientId)! });
      const at = (t: number | null) => (t === null ? null : iso(t));
      return {
        status: 200,
        body: {
          sessions: sessions.map((x) => ({
            handle: x.handle,
            signedInAt: at(x.signedInAt),
            lastUsedAt: at(x.lastUsedAt),
            expiresAt: at(x.expiresAt),
            ip: x.ip,
            userAgent: x.userAgent,
            apps: x.apps.map((a) => app(a.clientId)),
          })),
          apps: apps.map((a) => ({ handle: a.handle, ...app(a.clientId), grantedAt: at(a.grantedAt), expiresAt: at(a.expiresAt) })),
        },
      };
    },
  },
  {
    method: 'post',
    path: '/users/{userId}/end-sessions',
    summary: 'Sign the user out everywhere: their browser sessions end and every app\'s grant (refresh and access tokens) is revoked',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'What was ended', schema: s.endedSessionsSchema }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      const account = await services.authorization.require(principal, { action: 'user.end-sessions', userId: params.userId! });
      const ended = await services.sessions.endAll(account.id);
      await recordUserEvent('user.sessions_ended', { principal, services, request }, account, endedView(ended));
      return { status: 200, body: endedView(ended) };
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
      const account = await services.authorization.require(principal, { action: 'user.read', userId: params.userId! });
      return { status: 200, body: await services.policies.effectiveFor(account) };
    },
  },
  ...(['disable', 'enable'] as const).map(
    (action): AdminRoute => ({
      method: 'post',
      path: `/users/{userId}/${action}`,
      summary: action === 'disable' ? 'Disable a user: sign-in stops, their sessions end and their grants are revoked' : 'Enable a user',
      tag: 'Users',
      access: 'platform or organization admin',
      responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
      async handler({ principal, params, services, request }) {
        const before = await services.authorization.require(principal, { action: `user.${action}`, userId: params.userId! });
        const after = await services.accounts.setStatus(before.id, action === 'disable' ? 'disabled' : 'active');
        // A disabled user's sessions and grants end now, so enabling them again brings none of them back.
        const ended = action === 'disable' ? await services.sessions.endAll(before.id) : undefined;
        await recordUserEvent(`user.${action}d`, { principal, services, request }, before, { before: { status: before.status }, after: { status: after.status }, ...(ended ? endedView(ended) : {}) });
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
      const before = await services.authorization.require(principal, { action: 'user.unlock', userId: params.userId! });
      const after = await services.accounts.unlock(before.id);
      await recordUserEvent('user.unlocked', { principal, services, request }, before, { before: { failedAttempts: before.failedAttempts, lockedUntil: before.lockedUntil }, after: { failedAttempts: 0, lockedUntil: null } });
      return { status: 200, body: await userView(after, services) };
    },
  },
  {
    method: 'post',
    path: '/users/{userId}/reset-2fa',
    summary: 'Remove all of the user\'s second factors (authenticator app, passkeys) and recovery codes (lost device); an enforcing policy enrolls them again at sign-in',
    tag: 'Users',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The user', schema: s.userSchema }, ...withNotFound },
    async handler({ principal, params, services, request }) {
      const account = await services.authorization.require(principal, { action: 'user.reset-2fa', userId: params.userId! });
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
      const account = await services.authorization.require(principal, { action: 'user.password-reset', userId: params.userId! });
      await services.passwordResets.adminReset(account, body.requireChangeAtNextSignIn, principal.actor, request);
      return { status: 202, body: { emailedTo: account.email, requireChangeAtNextSignIn: body.requireChangeAtNextSignIn } };
    },
  },
];
