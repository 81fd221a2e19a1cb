import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Services } from '../services/index.js';
import { sendBackchannelLogouts } from './backchannel.js';
import { sessionTypeOf, type GatehouseAccount } from './index.js';

/**
 * session.preventConcurrentWebSessions: whenever a web client receives a grant through a browser
 * session (a fresh sign-in, or a sign-in through the existing session: SSO, prompt=none included, or a
 * consent), the user's other browser sessions end, their web clients' grants are revoked, and those
 * clients are told through back-channel logout where they registered for it. Runs after oidc-provider
 * has answered the authorization request or the resume, when an authorization code was issued and the
 * session (with its new id after a sign-in) is saved.
 */
export function concurrentWebSessionGuard(provider: Provider, services: Services) {
  return async (koa: Context, next: Next) => {
    await next();
    const ctx = koa as unknown as KoaContextWithOIDC;
    const oidc = ctx.oidc;
    if (oidc?.route !== 'resume' && oidc?.route !== 'authorization') return;
    // A code is what delivers the grant: errors (access_denied, login_required…) and interactions issue none.
    if (!oidc.entities.AuthorizationCode || !oidc.session?.accountId) return;
    if (sessionTypeOf(oidc.client) !== 'web') return;
    const accountId = oidc.session.accountId;
    // findAccount has just read the governing policy for this request.
    const governing = (oidc.entities.Account as GatehouseAccount | undefined)
      ?? (await services.policies.effectiveFor(await services.accounts.get(accountId)));
    if (!governing.policy.session.preventConcurrentWebSessions) return;

    // provider.Client.find reads each client once per request (the adapter's), here and for the logout below.
    const ended = await services.sessions.endOtherSessions(accountId, oidc.session.jti, async (clientId) => {
      const client = await provider.Client.find(clientId);
      return client !== undefined && sessionTypeOf(client) === 'web';
    });
    // The same events as oidc-provider's own logout, so provider/backchannel.ts logs and audits both.
    await sendBackchannelLogouts(provider, ctx, accountId, ended);
    if (ended.length) {
      await services.audit.record('session.concurrent_ended', {
        actor: { type: 'user', id: accountId },
        organizationId: governing.organizationId,
        target: { type: 'user', id: accountId },
        data: { endedClientSessions: ended.length, clientId: oidc.client?.clientId },
      });
    }
  };
}
