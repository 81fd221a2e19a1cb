import type Router from '@koa/router';
import type { Context } from 'koa';
import { m, type Text } from '../../i18n/index.js';
import { csrfToken, csrfValid } from '../../http/csrf.js';
import { requestInfo } from '../../http/request-info.js';
import { sendBackchannelLogouts } from '../../provider/backchannel.js';
import { handleOf, type Ended } from '../../services/sessions.js';
import { nowSeconds } from '../../stores/db.js';
import { str } from '../steps/step.js';
import { render } from '../views.js';
import { recentlyAuthenticated, type SignedIn } from './passkeys.js';
import { browserOf } from './user-agent.js';
import type { AccountSectionDeps } from './index.js';

export const SESSIONS_PATH = '/account/sessions';
/** Where a sensitive action sends a user whose sign-in is older than 5 minutes (the re-authentication page). */
export const CONFIRM_FOR_SESSIONS = `/account/confirm?next=${SESSIONS_PATH}`;

const SESSION_TYPE: Record<string, string> = { web: m('Web app'), mobile: m('Mobile app'), desktop: m('Desktop app') };

/** What the page says after an action (`?done=`): fixed sentences, never text from the URL. */
const DONE = {
  ended: m('That session was signed out. Its apps can no longer use it.'),
  app: m('That app was signed out.'),
  others: m('You were signed out everywhere else.'),
} as const;

/** The session's expiry as oidc-provider saved it (the device record lives as long). */
const sessionExpiry = (s: SignedIn): number => (s.session as { exp?: number }).exp ?? nowSeconds() + 3600;
const when = (seconds: number): Date => new Date(seconds * 1000);
const handleOfCurrent = (s: SignedIn): string => handleOf(s.session.jti);

interface AppView {
  name: string;
  type: string;
}

/**
 * The account's sessions and devices: every browser session (signed in at, last used, address, browser
 * and system, the apps signed in through it) and every app holding refresh tokens without one, from the
 * per-account index (services/sessions.ts). The user ends one session, one app, or everything but this
 * browser ("sign out everywhere else", a sensitive action: it needs a recent sign-in). Ending revokes the
 * grants (refresh and access tokens die), tells apps through back-channel logout where they registered
 * for it, and is audited. Forms name sessions and apps by handle, checked against the user's own index.
 */
export function sessionRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services, parseForm } = deps;

  async function appView(clientId: string): Promise<AppView> {
    const client = await services.clients.find(clientId);
    return { name: client?.clientName ?? clientId, type: SESSION_TYPE[client?.sessionType ?? 'web'] ?? SESSION_TYPE.web! };
  }

  async function page(ctx: Context, s: SignedIn, extra: { errors?: Text[]; notice?: Text } = {}, status = 200) {
    const request = requestInfo(ctx, deps.trustedProxies);
    // Viewing this page is a use of this browser's session.
    await services.sessions.touch(s.session.jti, s.account.id, { loginTs: s.session.authTime(), expiresAt: sessionExpiry(s) }, request);
    const { sessions, apps } = await services.sessions.devicesOf(s.account.id, s.session.jti);
    // Each app looked up once, however many sessions it is signed in through.
    const clientIds = new Set([...sessions.flatMap((x) => x.apps.map((a) => a.clientId)), ...apps.map((a) => a.clientId)]);
    const names = new Map(await Promise.all([...clientIds].map(async (id) => [id, await appView(id)] as const)));
    const nameOf = (clientId: string) => names.get(clientId)!;
    await render(
      ctx,
      'account-sessions',
      {
        csrf: csrfToken(ctx),
        errors: extra.errors ?? [],
        notice: extra.notice ?? null,
        recent: await recentlyAuthenticated(services, s),
        sessions: sessions.map((x) => ({
          handle: x.handle,
          current: x.current,
          browser: browserOf(x.userAgent),
          details: [
            x.signedInAt !== null ? m('Signed in {{when}}', { when: when(x.signedInAt) }) : null,
            x.lastUsedAt !== null ? m('Last used {{when}}', { when: when(x.lastUsedAt) }) : null,
            x.ip ? m('from {{address}}', { address: x.ip }) : null,
          ].filter((d) => d !== null),
          apps: x.apps.map((a) => nameOf(a.clientId)),
        })),
        apps: apps.map((a) => ({
          handle: a.handle,
          ...nameOf(a.clientId),
          details: [
            a.grantedAt !== null ? m('Signed in {{when}}', { when: when(a.grantedAt) }) : null,
            a.expiresAt !== null ? m('Access ends {{when}}', { when: when(a.expiresAt) }) : null,
          ].filter((d) => d !== null),
        })),
      },
      status,
    );
  }

  /** The signed-in user and the checked form, or an answer already given (not signed in, bad CSRF). */
  async function guarded(ctx: Context): Promise<{ s: SignedIn; form: Record<string, unknown> } | undefined> {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return undefined;
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrfValid(ctx, form.csrf)) {
      await page(ctx, s, { errors: [m('The form on this page has expired. Please try again.')] }, 403);
      return undefined;
    }
    return { s, form };
  }

  /** Tells the apps, audits, and shows the page again with `done`. */
  async function after(ctx: Context, s: SignedIn, type: string, ended: Ended, data: Record<string, unknown>, done: keyof typeof DONE) {
    await sendBackchannelLogouts(deps.provider, ctx, s.account.id, ended.loggedOut);
    await services.audit.record(type, {
      actor: { type: 'user', id: s.account.id },
      organizationId: await services.policies.organizationOf(s.account),
      target: { type: 'user', id: s.account.id },
      request: requestInfo(ctx, deps.trustedProxies),
      data: { by: 'user', ...data, endedSessions: ended.sessions, revokedGrants: ended.grants, clientIds: [...new Set(ended.clientIds)] },
    });
    ctx.redirect(`${SESSIONS_PATH}?done=${done}`);
    ctx.status = 303;
  }

  router.get(SESSIONS_PATH, async (ctx) => {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return;
    await page(ctx, s, { notice: DONE[str(ctx.query.done) as keyof typeof DONE] });
  });

  router.post(`${SESSIONS_PATH}/end`, parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    const handle = str(g.form.session);
    const ended = handle ? await services.sessions.endOwnSession(g.s.account.id, handle) : undefined;
    if (!ended) return page(ctx, g.s, { errors: [m('That session is not one of yours, or it has already ended.')] }, 404);
    await after(ctx, g.s, 'session.ended', ended, { session: handle, current: handle === handleOfCurrent(g.s) }, 'ended');
  });

  router.post(`${SESSIONS_PATH}/apps/end`, parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    const handle = str(g.form.app);
    const revoked = handle ? await services.sessions.endOwnGrant(g.s.account.id, handle) : undefined;
    if (!revoked) return page(ctx, g.s, { errors: [m('That app is not signed in to your account.')] }, 404);
    await after(ctx, g.s, 'session.app_ended', { sessions: 0, grants: 1, clientIds: [revoked.clientId], loggedOut: [] }, { grant: handle }, 'app');
  });

  router.post(`${SESSIONS_PATH}/others`, parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    if (!(await recentlyAuthenticated(services, g.s))) {
      ctx.redirect(CONFIRM_FOR_SESSIONS);
      ctx.status = 303;
      return;
    }
    const ended = await services.sessions.endEverywhereElse(g.s.account.id, g.s.session.jti);
    await after(ctx, g.s, 'session.others_ended', ended, {}, 'others');
  });
}
