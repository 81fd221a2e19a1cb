import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import { requestInfo } from '../http/request-info.js';
import type { Services } from '../services/index.js';
import { nowSeconds } from '../stores/db.js';

/**
 * Keeps the device of each browser session (services/sessions.ts: address, user agent, signed in at,
 * last used) for the account pages. oidc-provider's Session keeps none of it. Runs after
 * oidc-provider has answered and saved the session: a resume that completed a login records the
 * session's device under its new id; any other authorization request through a signed-in session is
 * a use ("last used", at most once a minute). A failure here is logged, never the request's.
 */
export function sessionDevices(services: Services, trustedProxies: readonly string[], logger: Logger) {
  return async (koa: Context, next: Next) => {
    await next();
    const oidc = (koa as unknown as KoaContextWithOIDC).oidc;
    if (oidc?.route !== 'resume' && oidc?.route !== 'authorization') return;
    const session = oidc.session;
    if (!session?.accountId) return;
    const { ip, userAgent } = requestInfo(koa, trustedProxies);
    const expiresAt = typeof session.exp === 'number' ? session.exp : nowSeconds() + 3600;
    const signedInNow = oidc.route === 'resume' && (oidc as { result?: { login?: unknown } }).result?.login !== undefined;
    try {
      if (signedInNow) await services.sessions.recordSignIn(session.jti, session.accountId, { ip, userAgent }, expiresAt);
      else await services.sessions.touch(session.jti, session.accountId, { loginTs: session.loginTs, expiresAt }, { ip, userAgent });
    } catch (err) {
      logger.warn({ err }, 'recording the session\'s device failed');
    }
  };
}
