import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Services } from '../../services/index.js';
import { requestInfo } from '../../http/request-info.js';
import { whitelistAllows } from '../../policy/ip.js';
import { NETWORK_NOT_ALLOWED } from '../steps/password.js';
import { render } from '../views.js';
import { m } from '../../i18n/message.js';
import type { SignedIn } from './passkeys.js';
import { confirmRoutes } from './confirm.js';
import { overviewRoutes } from './overview.js';
import { securityRoutes } from './security.js';
import { sessionRoutes } from './sessions.js';
import { activityRoutes } from './activity.js';

export interface AccountPagesDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
}

/** What every section of the account center is handed. */
export interface AccountSectionDeps extends AccountPagesDeps {
  parseForm: Middleware;
  /** The signed-in, active account of this browser's Gatehouse session, read fresh. */
  signedInAccount(ctx: Context): Promise<SignedIn | undefined>;
  /** Answers "not signed in" (a page for a GET, 401) and returns undefined, or returns the signed-in user. */
  requireSignedIn(ctx: Context): Promise<SignedIn | undefined>;
}

/**
 * The account center (/account and below): the signed-in user's own pages, on the Gatehouse browser
 * session. Each section registers its routes here (overview.ts: who and which rules; security.ts: password
 * and sign-in methods; confirm.ts: the re-authentication gate; …), behind
 * one guard: the IP whitelist of the account's policy holds for every /account page and form.
 */
export function accountPages(deps: AccountPagesDeps): Router {
  const { services } = deps;
  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });

  async function readSignedIn(ctx: Context): Promise<SignedIn | undefined> {
    const session = await deps.provider.Session.get(ctx as never);
    const account = session.accountId ? await services.accounts.findById(session.accountId) : undefined;
    return account?.status === 'active' ? { session, account } : undefined;
  }
  /** Read once per request (the whitelist guard and the handler share it), never across requests. */
  function signedInAccount(ctx: Context): Promise<SignedIn | undefined> {
    const state = ctx.state as { signedIn?: Promise<SignedIn | undefined> };
    return (state.signedIn ??= readSignedIn(ctx));
  }

  async function requireSignedIn(ctx: Context): Promise<SignedIn | undefined> {
    const signedIn = await signedInAccount(ctx);
    if (!signedIn) {
      await render(ctx, 'error', { message: m('You are not signed in to Gatehouse. Sign in through your application, then come back to this page.'), code: null }, 401);
    }
    return signedIn;
  }

  /**
   * The account pages are a place the user's own device talks to: the IP whitelist of the signed-in
   * account's policy holds there, for every /account page and form, before any handler runs. The session
   * is left as it is, to be used again from an allowed network.
   */
  async function accountPagesOnAllowedNetwork(ctx: Context, next: Next) {
    const signedIn = await signedInAccount(ctx);
    if (signedIn) {
      const governing = await services.policies.effectiveFor(signedIn.account);
      const request = requestInfo(ctx, deps.trustedProxies);
      if (!whitelistAllows(governing.policy.login.ipWhitelist, request.ip)) {
        await services.audit.record('account_page.refused', {
          actor: { type: 'user', id: signedIn.account.id },
          organizationId: governing.organizationId,
          target: { type: 'user', id: signedIn.account.id },
          request,
          data: { path: ctx.path, reason: 'ip-not-allowed' },
        });
        return render(ctx, 'error', { message: NETWORK_NOT_ALLOWED, code: null }, 403);
      }
    }
    await next();
  }
  // Case-insensitive like the routes themselves (/ACCOUNT/password reaches /account/password).
  router.use(/^\/account(?:\/|$)/i, accountPagesOnAllowedNetwork);

  const sectionDeps: AccountSectionDeps = { ...deps, parseForm, signedInAccount, requireSignedIn };
  overviewRoutes(router, sectionDeps);
  securityRoutes(router, sectionDeps);
  confirmRoutes(router, sectionDeps);
  sessionRoutes(router, sectionDeps);
  activityRoutes(router, sectionDeps);
  return router;
}
