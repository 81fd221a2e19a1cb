import type Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import { m, type Text } from '../i18n/message.js';
import { textFor } from '../i18n/index.js';
import type * as s from '../admin/schemas.js';
import { describeRules } from '../policy/password-rules.js';
import type { SecurityPolicy } from '../policy/security-policy.js';
import { browserOf } from '../interaction/account/user-agent.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../services/errors.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { guard as guardOf } from './shared.js';

type User = z.output<typeof s.userDetailSchema>;
type ListedUser = z.output<typeof s.userSchema>;
type Sessions = z.output<typeof s.userSessionsSchema>;
type EffectivePolicy = z.output<typeof s.effectivePolicySchema>;

/** The list's filters: each a checkbox in the GET form, passed to GET /users as "true". */
const FILTERS = ['locked', 'noSecondFactor', 'passwordExpiring', 'disabled'] as const;
type Filter = (typeof FILTERS)[number];
const FILTER_LABELS: Record<Filter, Text> = {
  locked: m('Locked'),
  noSecondFactor: m('No second factor'),
  passwordExpiring: m('Password expiring within 14 days'),
  disabled: m('Disabled accounts'),
};
const PAGE_SIZE = 25;

/** The actions on a user: each has a confirmation page and a POST to the admin API route of the same name. */
const ACTIONS = {
  unlock: {
    title: m('Unlock {{email}}'),
    consequence: m('The lock left by repeated failed sign-ins is lifted and the count of failures starts again from zero.'),
    button: m('Unlock'),
    done: m('The account is unlocked: they can sign in again.'),
    danger: false,
  },
  'password-reset': {
    title: m('Send {{email}} a password reset'),
    consequence: m('They receive an email with a link to choose a new password. Their current password keeps working until they do, unless you require a new one below.'),
    button: m('Send the email'),
    done: m('A password reset link was emailed to {{email}}.'),
    danger: false,
  },
  'reset-2fa': {
    title: m('Reset the second factor of {{email}}'),
    consequence: m('Their authenticator app, their passkeys and their recovery codes are removed. If their policy requires two-step verification, they set it up again at their next sign-in. They receive an email about it.'),
    button: m('Reset second factor'),
    done: m('Every second factor and recovery code of {{email}} was removed.'),
    danger: true,
  },
  'end-sessions': {
    title: m('Sign {{email}} out everywhere'),
    consequence: m('Every browser session of theirs ends and every app signed in with their account loses access. They can sign in again.'),
    button: m('Sign out everywhere'),
    done: m('{{email}} was signed out everywhere.'),
    danger: true,
  },
  disable: {
    title: m('Disable {{email}}'),
    consequence: m('They can no longer sign in, their sessions end and their apps lose access. You can enable the account again later.'),
    button: m('Disable'),
    done: m('The account of {{email}} is disabled.'),
    danger: true,
  },
  enable: {
    title: m('Enable {{email}}'),
    consequence: m('They can sign in again with their password.'),
    button: m('Enable'),
    done: m('The account of {{email}} is enabled.'),
    danger: false,
  },
} as const satisfies Record<string, { title: string; consequence: string; button: string; done: string; danger: boolean }>;
type Action = keyof typeof ACTIONS;
const isAction = (a: string | undefined): a is Action => a !== undefined && Object.hasOwn(ACTIONS, a);

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const isZod = (err: unknown) => (err as { name?: string } | null)?.name === 'ZodError';

/** The key rules of a policy, in plain words. */
function keyRules(policy: SecurityPolicy): Text[] {
  const { password, session, authentication, login } = policy;
  return [
    authentication.enforce2fa ? m('Two-step verification is required.') : m('Two-step verification is optional.'),
    password.expirationDays === null
      ? m('Passwords do not expire.')
      : m('Passwords expire after {{days}} days.', { days: password.expirationDays }),
    m('Web sessions last at most {{hours}} hours.', { hours: session.webTimeoutHours }),
    login.ipWhitelist.enabled ? m('Sign-in is allowed only from the listed networks.') : m('Sign-in is allowed from any network.'),
    m('Accounts lock after {{n}} failed sign-ins in a row.', { n: login.lockoutThreshold }),
  ];
}

/**
 * The Users pages: find the accounts the organization reaches (search, filters, pages, all in the URL),
 * invite someone, read one user's state, and act on them, each action confirmed first. Every read and
 * action is an admin API route run as the administrator (same authorization, same audit).
 */
export function userPages(router: Router, deps: ConsolePageDeps): void {
  const base = (orgId: string) => `/console/orgs/${encodeURIComponent(orgId)}/users`;
  const userPath = (orgId: string, userId: string) => `${base(orgId)}/${encodeURIComponent(userId)}`;

  const guard = (ctx: Context, form: boolean) => guardOf(deps, ctx, form);

  /** The list's state as read from the URL: what the form shows and the links keep. */
  function listState(ctx: Context) {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q : '';
    const filters = Object.fromEntries(FILTERS.map((f) => [f, ctx.query[f] === 'true'])) as Record<Filter, boolean>;
    const limit = Number(ctx.query.limit);
    const cursor = typeof ctx.query.cursor === 'string' && ctx.query.cursor ? ctx.query.cursor : undefined;
    // The cursors of the pages before this one, oldest first ("" for the first page): Previous pops one.
    const trail = typeof ctx.query.trail === 'string' && ctx.query.trail ? ctx.query.trail.split(',') : [];
    return { q, filters, limit: Number.isInteger(limit) && limit >= 1 && limit <= 200 ? limit : PAGE_SIZE, cursor, trail };
  }
  type ListState = ReturnType<typeof listState>;

  function listLink(orgId: string, st: ListState, cursor: string | undefined, trail: string[]) {
    const p = new URLSearchParams();
    if (st.q) p.set('q', st.q);
    for (const f of FILTERS) if (st.filters[f]) p.set(f, 'true');
    if (st.limit !== PAGE_SIZE) p.set('limit', String(st.limit));
    if (cursor) p.set('cursor', cursor);
    if (trail.length) p.set('trail', trail.join(','));
    const query = p.toString();
    return query ? `${base(orgId)}?${query}` : base(orgId);
  }

  async function showList(ctx: Context, user: ConsoleUser, orgId: string, extra: { notice?: Text; problem?: Text; invite?: { email: string; name: string; problem: Text | null } } = {}, status = 200) {
    const st = listState(ctx);
    let items: ListedUser[] = [];
    let nextCursor: string | null = null;
    let problem: Text | null = extra.problem ?? null;
    try {
      const query: Record<string, unknown> = { reachedBy: orgId, limit: String(st.limit) };
      if (st.q.trim()) query.q = st.q;
      for (const f of FILTERS) if (st.filters[f]) query[f] = 'true';
      if (st.cursor) query.cursor = st.cursor;
      ({ items, nextCursor } = (await deps.callRoute(ctx, user, 'get', '/users', {}, undefined, query)) as { items: ListedUser[]; nextCursor: string | null });
    } catch (err) {
      if (!isZod(err)) throw err;
      problem = m('The search is too long or contains characters that cannot be searched for.');
      status = 400;
    }
    const previous = st.cursor !== undefined || st.trail.length ? listLink(orgId, st, st.trail[st.trail.length - 1] || undefined, st.trail.slice(0, -1)) : null;
    const next = nextCursor ? listLink(orgId, st, nextCursor, [...st.trail, st.cursor ?? '']) : null;
    const filtered = Boolean(st.q.trim()) || FILTERS.some((f) => st.filters[f]);
    await deps.page(ctx, user, 'console/users', {
      current: 'users',
      base: base(orgId),
      items,
      q: st.q,
      filters: FILTERS.map((f) => ({ name: f, label: FILTER_LABELS[f], checked: st.filters[f] })),
      limit: st.limit === PAGE_SIZE ? null : st.limit,
      filtered,
      previous,
      next,
      notice: extra.notice ?? null,
      problem,
      invite: extra.invite ?? { email: '', name: '', problem: null },
    }, status);
  }

  /** The user, if this organization's page may show them: an account the organization reaches, whoever looks (a platform admin too). */
  async function readUser(ctx: Context, user: ConsoleUser, orgId: string, userId: string): Promise<User & { organizationName: string }> {
    // The organization first: an administrator of another one is refused (403) before any account is looked up.
    const organization = (await deps.callRoute(ctx, user, 'get', '/organizations/{orgId}', { orgId })) as { name: string };
    const found = (await deps.callRoute(ctx, user, 'get', '/users/{userId}', { userId })) as User;
    const { items } = (await deps.callRoute(ctx, user, 'get', '/users', {}, undefined, { reachedBy: orgId, email: found.email })) as { items: ListedUser[] };
    if (!items.some((u) => u.id === found.id)) throw new NotFoundError('user');
    return { ...found, organizationName: organization.name };
  }

  async function showUser(ctx: Context, user: ConsoleUser, orgId: string, userId: string, extra: { done?: Action; problem?: Text } = {}, status = 200) {
    const found = await readUser(ctx, user, orgId, userId);
    // The notice is one of the fixed sentences, never text from the URL.
    const notice = extra.done ? m(ACTIONS[extra.done].done, { email: found.email }) : null;
    const [effective, sessions] = (await Promise.all([
      deps.callRoute(ctx, user, 'get', '/users/{userId}/effective-policy', { userId }),
      deps.callRoute(ctx, user, 'get', '/users/{userId}/sessions', { userId }),
    ])) as [EffectivePolicy, Sessions];
    const governedBy: Text =
      effective.source === 'baseline'
        ? m('The platform\'s baseline policy: no organization has verified the domain of this address.')
        : effective.organizationId === orgId
          ? m('The security policy of {{org}}, which verified the domain {{domain}}.', { org: found.organizationName, domain: effective.domain })
          : m('The security policy of another organization, which verified the domain {{domain}}.', { domain: effective.domain });
    const totp = found.factors.filter((f) => f.kind === 'totp').length;
    const passkeys = found.factors.filter((f) => f.kind === 'passkey').length;
    await deps.page(ctx, user, 'console/user', {
      current: 'users',
      base: base(orgId),
      here: userPath(orgId, userId),
      target: found,
      governedBy,
      rules: keyRules(effective.policy),
      passwordRules: describeRules(effective.policy.password),
      totp,
      passkeys,
      lock: found.lockedUntil ? m('Locked until {{when}}', { when: new Date(found.lockedUntil) }) : null,
      browsers: sessions.sessions.map((x) => ({
        browser: browserOf(x.userAgent),
        ip: x.ip,
        apps: x.apps.map((a) => a.name),
        details: [
          ...(x.signedInAt ? [m('Signed in {{when}}', { when: new Date(x.signedInAt) })] : []),
          ...(x.lastUsedAt ? [m('Last used {{when}}', { when: new Date(x.lastUsedAt) })] : []),
        ],
      })),
      apps: sessions.apps.map((a) => ({ name: a.name, since: a.grantedAt ? m('Signed in {{when}}', { when: new Date(a.grantedAt) }) : null })),
      notice,
      problem: extra.problem ?? null,
    }, status);
  }

  /** A refusal the administrator can act on (an owner-only action, say): the user's page with the API's reason. */
  async function refuseOnUser(ctx: Context, g: { user: ConsoleUser; orgId: string }, userId: string, err: unknown) {
    if (err instanceof ForbiddenError || err instanceof ConflictError) {
      const readable = await readUser(ctx, g.user, g.orgId, userId).then(() => true, () => false);
      if (readable) {
        const problem = err.text ?? m('Gatehouse refused this: {{detail}}.', { detail: err.message });
        return showUser(ctx, g.user, g.orgId, userId, { problem }, err instanceof ForbiddenError ? 403 : 409);
      }
    }
    return deps.refuse(ctx, err);
  }

  router.get('/orgs/:orgId/users', async (ctx) => {
    const g = await guard(ctx, false);
    if (g) await showList(ctx, g.user, g.orgId).catch((err) => deps.refuse(ctx, err));
  });

  router.post('/orgs/:orgId/users/invite', deps.parseForm, async (ctx) => {
    const g = await guard(ctx, true);
    if (!g) return;
    const body = ctx.request.body as Record<string, unknown>;
    const email = str(body.email);
    const name = str(body.name);
    const again = (problem: Text, status: number) => showList(ctx, g.user, g.orgId, { invite: { email, name, problem } }, status).catch((e) => deps.refuse(ctx, e));
    // The form's own check, so a mistyped address is answered as such rather than as another organization's domain.
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) return again(m('Enter an email address such as ann@example.com.'), 400);
    try {
      await deps.callRoute(ctx, g.user, 'post', '/users', {}, { email, invite: true, organizationId: g.orgId, ...(name ? { name } : {}) });
    } catch (err) {
      if (isZod(err) || err instanceof ValidationError) return again(m('Enter an email address such as ann@example.com.'), 400);
      if (err instanceof ConflictError) return again(m('There is already an account with this email address.'), 409);
      // An organization invites only on its verified domains: the reason matters, so the form says it.
      if (err instanceof ForbiddenError && (await deps.callRoute(ctx, g.user, 'get', '/organizations/{orgId}', { orgId: g.orgId }).then(() => true, () => false))) {
        return again(m('Gatehouse refused this: {{detail}}.', { detail: err.message }), 403);
      }
      return deps.refuse(ctx, err);
    }
    await showList(ctx, g.user, g.orgId, { notice: m('An invitation was emailed to {{email}}.', { email }) }, 201);
  });

  router.get('/orgs/:orgId/users/:userId', async (ctx) => {
    const g = await guard(ctx, false);
    if (!g) return;
    const done = typeof ctx.query.done === 'string' && isAction(ctx.query.done) ? ctx.query.done : undefined;
    await showUser(ctx, g.user, g.orgId, ctx.params.userId!, { done }).catch((err) => deps.refuse(ctx, err));
  });

  router.get('/orgs/:orgId/users/:userId/:action', async (ctx) => {
    const g = await guard(ctx, false);
    if (!g) return;
    const action = ctx.params.action;
    if (!isAction(action)) return deps.refuse(ctx, new NotFoundError('page'));
    try {
      const target = await readUser(ctx, g.user, g.orgId, ctx.params.userId!);
      const a = ACTIONS[action];
      await deps.page(ctx, g.user, 'console/confirm', {
        current: 'users',
        title: textFor(ctx, m(a.title, { email: target.email })),
        lead: a.consequence,
        fields: {},
        option: action === 'password-reset' ? { name: 'requireChange', label: m('Also require a new password at their next sign-in') } : null,
        button: a.button,
        danger: a.danger,
        action: `${userPath(g.orgId, target.id)}/${action}`,
        cancel: userPath(g.orgId, target.id),
      });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  router.post('/orgs/:orgId/users/:userId/:action', deps.parseForm, async (ctx) => {
    const g = await guard(ctx, true);
    if (!g) return;
    const action = ctx.params.action;
    const userId = ctx.params.userId!;
    if (!isAction(action)) return deps.refuse(ctx, new NotFoundError('page'));
    try {
      await readUser(ctx, g.user, g.orgId, userId);
      const body = action === 'password-reset' ? { requireChangeAtNextSignIn: (ctx.request.body as Record<string, unknown>).requireChange === 'true' } : undefined;
      await deps.callRoute(ctx, g.user, 'post', `/users/{userId}/${action}`, { userId }, body);
    } catch (err) {
      return refuseOnUser(ctx, g, userId, err);
    }
    ctx.status = 303;
    ctx.redirect(`${userPath(g.orgId, userId)}?done=${action}`);
  });
}
