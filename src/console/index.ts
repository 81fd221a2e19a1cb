import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Services } from '../services/index.js';
import { principalOfToken, type Principal } from '../admin/auth.js';
import { HttpProblem } from '../admin/problem.js';
import { adminRoutes } from '../admin/routes/index.js';
import type { HandlerContext, Method } from '../admin/route.js';
import { requestInfo } from '../http/request-info.js';
import { answerUnavailable } from '../http/unavailable.js';
import { FORM_EXPIRED, render } from '../interaction/views.js';
import { NETWORK_NOT_ALLOWED } from '../interaction/steps/password.js';
import { m } from '../i18n/message.js';
import { sameSecret } from '../http/csrf.js';
import { ForbiddenError, NotFoundError } from '../services/errors.js';
import { ConsoleSessions, type ConsoleSession } from './session.js';
import { domainPages } from './domain.js';
import { policyPages } from './policies.js';
import { userPages } from './users.js';
import { memberPages } from './members.js';
import { auditPages } from './audit.js';
import { platformPages } from './platform.js';
import type { AccountRecord } from '../stores/sql/accounts.js';

/** The console's token request was answered 5xx: Gatehouse cannot serve it right now (not a refusal). */
class TokenEndpointUnavailable extends Error {
  constructor(status: number) {
    super(`the token endpoint answered ${status}`);
    this.name = 'TokenEndpointUnavailable';
  }
}

/** The console's own OAuth client (services/clients ensureConsole). */
export const CONSOLE_CLIENT_ID = 'gatehouse-console';

export interface ConsoleDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  issuer: string;
  /**
   * Where this process's own HTTP listener answers (its issuer until it listens). The console calls the
   * token endpoint there, over loopback: the public issuer address may not be reachable from inside
   * (a TLS-terminating proxy without hairpin routing); every node serves the same tokens.
   */
  tokenOrigin(): string;
  adminResource: string;
  trustedProxies: string[];
  bootstrapClientId?: string;
}

/**
 * A signed-in administrator on a console request: an organization's owner or admin, or a person who is a
 * platform admin (the bootstrap machine client has no account and cannot sign in here).
 */
export type ConsolePrincipal = Extract<Principal, { kind: 'user' }> | (Extract<Principal, { kind: 'platform' }> & { account: AccountRecord });
export interface ConsoleUser {
  principal: ConsolePrincipal;
  sessionId: string;
  session: ConsoleSession;
}

/** What each console page module is handed. */
export interface ConsolePageDeps extends ConsoleDeps {
  parseForm: ReturnType<typeof bodyParser>;
  /** The administrator of this request, or undefined once a redirect or refusal page has been answered. */
  requireAdmin(ctx: Context): Promise<ConsoleUser | undefined>;
  /** Whether the form's CSRF token is this console session's (answers 403 when not). */
  checkCsrf(ctx: Context, user: ConsoleUser): Promise<boolean>;
  /** Runs an admin API route's handler as the console's administrator: the same checks, the same audit. */
  callRoute(ctx: Context, user: ConsoleUser, method: Method, path: string, params: Record<string, string>, body?: unknown, query?: Record<string, unknown>): Promise<unknown>;
  /**
   * Renders a console page with the layout's data (nav, CSRF token, the signed-in user, whether they are a
   * platform admin). On an organization's page (`:orgId` in the path) the organization is read through the
   * admin API's route, so an administrator of another organization is refused before anything is shown.
   */
  page(ctx: Context, user: ConsoleUser, view: string, data: Record<string, unknown>, status?: number): Promise<void>;
  /** Answers an error thrown by a route as a page: 403, 404, or the given status. */
  refuse(ctx: Context, err: unknown): Promise<void>;
}

const isConsolePrincipal = (p: Principal): p is ConsolePrincipal =>
  p.kind === 'platform'
    ? p.account !== undefined
    : (p.account.orgRole === 'owner' || p.account.orgRole === 'admin') && p.account.organizationId !== null;

/** Where an administrator starts: a platform admin on the platform's organizations, anyone else on their organization. */
export const homeOf = (p: ConsolePrincipal): string =>
  p.kind === 'platform' ? '/console/platform/organizations' : `/console/orgs/${encodeURIComponent(p.account.organizationId!)}/domain`;

/**
 * The admin console at /console: Gatehouse signs its administrators in through itself (authorization code
 * + PKCE, the console being a first-party client), keeps their tokens server-side, and resolves each
 * request's principal from the stored access token with the admin API's own code (admin/auth.ts), so a
 * revoked token, a disabled user or the IP whitelist stop the console exactly as they stop the API.
 */
export function consolePages(deps: ConsoleDeps): Router {
  const { services, issuer } = deps;
  const router = new Router({ prefix: '/console' });
  const sessions = new ConsoleSessions(services.oidcStore);
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });
  const redirectUri = `${issuer}/console/callback`;
  const tokenDeps = { ...deps, accounts: services.accounts, clients: services.clients, policies: services.policies };

  // Console forms post only to the console: a form-action limit on top of the app-wide policy (the sign-in
  // pages cannot have one; their forms end in redirects to the relying parties).
  router.use(async (ctx, next) => {
    await next();
    ctx.set('Content-Security-Policy', `${ctx.response.get('Content-Security-Policy')}; form-action 'self'`);
  });

  /**
   * The token endpoint, called over HTTP like any client would (the console holds no shortcut), on this
   * node. Undefined when it refuses (4xx); it being unavailable (5xx: a backing service down) is thrown
   * as TokenEndpointUnavailable, which is no refusal: the session and its refresh token stay.
   */
  async function tokenRequest(params: Record<string, string>): Promise<Omit<ConsoleSession, 'csrf'> | undefined> {
    const res = await fetch(`${deps.tokenOrigin()}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, ...params }),
    });
    if (res.status >= 500) throw new TokenEndpointUnavailable(res.status);
    if (!res.ok) {
      deps.logger.info({ status: res.status, grant: params.grant_type }, 'console token request refused');
      return undefined;
    }
    const body = (await res.json()) as { access_token: string; refresh_token?: string; id_token?: string; expires_in: number };
    return { accessToken: body.access_token, refreshToken: body.refresh_token ?? null, idToken: body.id_token ?? null, expiresAt: Math.floor(Date.now() / 1000) + body.expires_in };
  }

  async function signInRedirect(ctx: Context, returnTo: string) {
    const verifier = randomBytes(32).toString('base64url');
    const state = await sessions.startSignIn(ctx, { verifier, returnTo });
    const url = new URL(`${issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      // offline_access (with prompt=consent, which a first-party client passes without a page) gives the refresh token.
      scope: 'openid email profile offline_access admin',
      prompt: 'consent',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    ctx.redirect(url.href);
  }

  /** The principal of an access token; undefined when the token is refused (401: expired, revoked, its grant ended). */
  async function principalIfValid(ctx: Context, accessToken: string): Promise<Principal | undefined> {
    try {
      return await principalOfToken(ctx, accessToken, tokenDeps);
    } catch (err) {
      if (err instanceof HttpProblem && err.problem.status === 401) return undefined;
      throw err;
    }
  }

  /**
   * The principal of the stored access token, refreshing it once when it has expired or stopped working;
   * undefined when the session cannot go on (refresh refused, or its grant ended even as it was renewed).
   */
  async function principalOf(ctx: Context, id: string, session: ConsoleSession): Promise<{ principal: Principal; session: ConsoleSession } | undefined> {
    if (session.expiresAt > Date.now() / 1000 + 5) {
      const principal = await principalIfValid(ctx, session.accessToken);
      if (principal) return { principal, session };
    }
    const renewed = await refreshOnce(id, session);
    const principal = renewed && (await principalIfValid(ctx, renewed.accessToken));
    return renewed && principal ? { principal, session: renewed } : undefined;
  }

  /**
   * Refresh tokens rotate, and presenting a used one again revokes the whole grant (replay detection):
   * two requests of one console session refreshing at once, on one node or on two, would sign the
   * administrator out. So the refresh is claimed in the store first (ConsoleSessions.claimRefresh, one
   * winner across nodes); the winner refreshes with the refresh token stored now (another node may
   * have renewed it since this request read the session) and saves the renewed session, which lifts
   * the claim; the others wait for that and use it. Within a node, requests share one attempt.
   */
  const refreshing = new Map<string, Promise<ConsoleSession | undefined>>();
  function refreshOnce(id: string, session: ConsoleSession): Promise<ConsoleSession | undefined> {
    let pending = refreshing.get(id);
    if (!pending) {
      pending = (async () => {
        if (!session.refreshToken) return undefined;
        let claim = await sessions.claimRefresh(id);
        // Another node refreshes: wait for its outcome. It may give the claim back without renewing (its
        // token request failed): then claim it here, a few times at most.
        for (let tries = 0; !claim && tries < 3; tries++) {
          const waited = await sessions.renewedElsewhere(id, session);
          if (waited !== 'released') return waited;
          claim = await sessions.claimRefresh(id);
        }
        if (!claim) return undefined;
        const latest = claim.session;
        let refreshed;
        try {
          refreshed = latest.refreshToken ? await tokenRequest({ grant_type: 'refresh_token', refresh_token: latest.refreshToken }) : undefined;
        } catch (err) {
          await claim.release(); // no answer: the refresh token may still be good; the next request tries again
          throw err;
        }
        if (!refreshed) return undefined; // refused: the grant is gone, and the caller ends the session
        const renewed = { ...refreshed, refreshToken: refreshed.refreshToken ?? latest.refreshToken, idToken: refreshed.idToken ?? latest.idToken, csrf: latest.csrf };
        await sessions.save(id, renewed);
        return renewed;
      })().finally(() => refreshing.delete(id));
      refreshing.set(id, pending);
    }
    return pending;
  }

  async function requireAdmin(ctx: Context): Promise<ConsoleUser | undefined> {
    const found = await sessions.current(ctx);
    let resolved: Awaited<ReturnType<typeof principalOf>>;
    try {
      resolved = found ? await principalOf(ctx, found.id, found.session) : undefined;
    } catch (err) {
      // The token endpoint could not answer (a backing service is down): a 503, and the session stays.
      if (err instanceof TokenEndpointUnavailable) {
        await answerUnavailable(ctx);
        return undefined;
      }
      if (err instanceof HttpProblem && err.problem.status === 403) {
        const message = /IP whitelist/.test(err.problem.detail ?? '') ? NETWORK_NOT_ALLOWED : m('Your sign-in does not give access to the console.');
        await render(ctx, 'error', { message, code: null, hint: false }, 403);
        return undefined;
      }
      throw err;
    }
    if (!found || !resolved) {
      if (found) await sessions.end(ctx, found.id);
      if (ctx.method === 'GET') await signInRedirect(ctx, ctx.path);
      else await render(ctx, 'error', { message: m('Your console session has ended. Sign in again.'), code: null, hint: false }, 401);
      return undefined;
    }
    if (!isConsolePrincipal(resolved.principal)) {
      await render(ctx, 'console/not-admin', {}, 403);
      return undefined;
    }
    return { principal: resolved.principal, sessionId: found.id, session: resolved.session };
  }

  async function checkCsrf(ctx: Context, user: ConsoleUser): Promise<boolean> {
    if (sameSecret(user.session.csrf, (ctx.request.body as Record<string, unknown> | undefined)?.csrf)) return true;
    await render(ctx, 'error', { message: FORM_EXPIRED, code: null, hint: false }, 403);
    return false;
  }

  async function callRoute(ctx: Context, user: ConsoleUser, method: Method, path: string, params: Record<string, string>, body?: unknown, query: Record<string, unknown> = {}) {
    const route = adminRoutes.find((r) => r.method === method && r.path === path);
    if (!route) throw new Error(`no admin route ${method} ${path}`);
    const c: HandlerContext = {
      principal: user.principal,
      params,
      query: route.query ? route.query.parse(query) : {},
      body: route.body ? route.body.parse(body) : undefined,
      request: requestInfo(ctx, deps.trustedProxies),
      services,
      koa: ctx,
    };
    return (await route.handler(c)).body;
  }

  async function page(ctx: Context, user: ConsoleUser, view: string, data: Record<string, unknown>, status = 200) {
    const orgId = ctx.params?.orgId as string | undefined;
    const organization = orgId ? await callRoute(ctx, user, 'get', '/organizations/{orgId}', { orgId }) : null;
    const platformAdmin = user.principal.kind === 'platform';
    const orgBase = organization ? `/console/orgs/${encodeURIComponent(orgId!)}` : null;
    await render(ctx, view, { csrf: user.session.csrf, user: user.principal.account, organization, orgBase, platformAdmin, current: null, ...data }, status);
  }

  async function refuse(ctx: Context, err: unknown) {
    if (err instanceof ForbiddenError) return render(ctx, 'error', { message: m('You may not administer this organization.'), code: null, hint: false }, 403);
    if (err instanceof NotFoundError) return render(ctx, 'error', { message: m('Not found.'), code: null, hint: false }, 404);
    throw err;
  }

  router.get('/', async (ctx) => {
    const user = await requireAdmin(ctx);
    if (user) ctx.redirect(homeOf(user.principal));
  });

  router.get('/signin', async (ctx) => signInRedirect(ctx, '/console'));

  router.get('/callback', async (ctx) => {
    const { code, state } = ctx.query;
    const pending = typeof state === 'string' ? await sessions.finishSignIn(ctx, state) : undefined;
    let tokens;
    try {
      tokens = pending && typeof code === 'string'
        ? await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pending.verifier })
        : undefined;
    } catch (err) {
      if (!(err instanceof TokenEndpointUnavailable)) throw err;
      return answerUnavailable(ctx);
    }
    if (!pending || !tokens) {
      return render(ctx, 'console/signed-out', { failed: true }, 400);
    }
    await sessions.create(ctx, tokens);
    // Only the console's own paths: the stored value came from this server, never from a parameter.
    ctx.redirect(pending.returnTo.startsWith('/console') ? pending.returnTo : '/console');
  });

  router.post('/signout', parseForm, async (ctx) => {
    const found = await sessions.current(ctx);
    if (!found) return ctx.redirect('/console/signed-out');
    if (!sameSecret(found.session.csrf, (ctx.request.body as Record<string, unknown> | undefined)?.csrf)) {
      return render(ctx, 'error', { message: FORM_EXPIRED, code: null, hint: false }, 403);
    }
    await sessions.end(ctx, found.id);
    if (found.session.refreshToken) {
      // Ending the console session also revokes its refresh token (and so its grant's access tokens).
      await fetch(`${deps.tokenOrigin()}/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, token: found.session.refreshToken, token_type_hint: 'refresh_token' }),
      }).catch((err: unknown) => deps.logger.warn({ err }, 'console refresh token revocation failed'));
    }
    ctx.redirect('/console/signed-out');
  });

  router.get('/signed-out', async (ctx) => {
    const endSession = new URL(`${issuer}/session/end`);
    endSession.search = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, post_logout_redirect_uri: `${issuer}/console/signed-out` }).toString();
    await render(ctx, 'console/signed-out', { failed: false, endSession: endSession.href });
  });

  const pageDeps: ConsolePageDeps = { ...deps, parseForm, requireAdmin, checkCsrf, callRoute, page, refuse };
  for (const pages of [domainPages, policyPages, userPages, memberPages, auditPages, platformPages]) pages(router, pageDeps);
  return router;
}
