import type { Context } from 'koa';
import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { requestInfo } from '../http/request-info.js';
import { whitelistAllows } from '../policy/ip.js';
import type { AuditService } from '../services/audit.js';
import type { SessionService } from '../services/sessions.js';
import { sessionTypeOf, type GatehouseAccount } from './index.js';

const { Check, Prompt, base } = interactionPolicy;

export const NETWORK_REFUSED = 'your organization does not allow access from this network';

export interface CheckpointDeps {
  trustedProxies: readonly string[];
  sessions: SessionService;
  audit: AuditService;
}

const addressOf = (ctx: KoaContextWithOIDC, trustedProxies: readonly string[]) => requestInfo(ctx as unknown as Context, trustedProxies);

/**
 * oidc-provider's interaction policy with two Gatehouse checks, so that they hold wherever the
 * authorization endpoint would otherwise use an existing browser session without asking anything:
 *
 * - login / account_unavailable: the session names an account findAccount no longer returns (disabled
 *   or deleted). The session ends here (its grants revoked, its record destroyed) and the request goes on
 *   as a signed-out browser's: prompt=none gets login_required, anything else the sign-in page.
 * - network / ip_not_allowed (after login, before consent): the IP whitelist of the account's policy,
 *   for sign-ins through the existing session (SSO, prompt=none included) and for the resume of a fresh
 *   one. Nothing is asked: the app gets access_denied (login_required for prompt=none) at its
 *   redirect_uri, and the browser session stays, to be used again from an allowed network.
 */
export function gatehouseInteractionPolicy(deps: CheckpointDeps): interactionPolicy.DefaultPolicy {
  const policy = base();
  policy.get('login')!.checks.add(
    new Check('account_unavailable', 'the account of this session can no longer sign in', 'login_required', async (ctx) => {
      const { session } = ctx.oidc;
      if (!session?.accountId || ctx.oidc.account) return Check.NO_NEED_TO_PROMPT;
      // First, before any await: the other login checks of this request then see a signed-out session,
      // and the interaction about to start carries no reference to the ended one.
      const authorizations = session.authorizations;
      const accountId = session.accountId;
      delete (session as { accountId?: string }).accountId;
      await deps.sessions.endSession(session.jti, authorizations as Record<string, { grantId?: string }> | undefined);
      await session.destroy();
      await deps.audit.record('session.ended', {
        actor: { type: 'system', id: 'sign-in' },
        target: { type: 'user', id: accountId },
        request: addressOf(ctx, deps.trustedProxies),
        data: { reason: 'account-unavailable', clientId: ctx.oidc.client?.clientId },
      });
      return Check.REQUEST_PROMPT;
    }),
    0,
  );
  policy.add(
    new Prompt(
      { name: 'network', requestable: false },
      new Check('ip_not_allowed', NETWORK_REFUSED, 'access_denied', async (ctx) => {
        const account = ctx.oidc.account as GatehouseAccount | undefined;
        if (!account) return Check.NO_NEED_TO_PROMPT;
        const request = addressOf(ctx, deps.trustedProxies);
        if (whitelistAllows(account.policy.login.ipWhitelist, request.ip)) return Check.NO_NEED_TO_PROMPT;
        await deps.audit.record('sign_in.failed', {
          actor: { type: 'user', id: account.accountId },
          organizationId: account.organizationId,
          target: { type: 'user', id: account.accountId },
          request,
          data: { email: account.email, clientId: ctx.oidc.client?.clientId, reason: 'ip-not-allowed', through: 'session' },
        });
        // Thrown rather than prompted: there is nothing the user could do on a page from this network.
        throw ctx.oidc.promptPending('none') ? new errors.LoginRequired(NETWORK_REFUSED) : new errors.AccessDenied(NETWORK_REFUSED);
      }),
    ),
    1,
  );
  return policy;
}

/**
 * Called by findAccount for token and userinfo requests. A mobile or desktop client's requests come
 * from the user's device, so they pass the account's IP whitelist: a refused token request (code
 * exchange or refresh) is invalid_grant, a refused userinfo call invalid_token. It runs before
 * oidc-provider consumes or rotates anything, so the same refresh token works again from an allowed
 * network. A web client's token requests come from the app's server and are not checked.
 */
export async function refuseDeviceOutsideWhitelist(ctx: KoaContextWithOIDC | undefined, account: GatehouseAccount, deps: CheckpointDeps) {
  const route = ctx?.oidc?.route;
  if (!ctx || (route !== 'token' && route !== 'userinfo')) return;
  const sessionType = sessionTypeOf(ctx.oidc.client);
  if (sessionType === 'web') return;
  const request = addressOf(ctx, deps.trustedProxies);
  if (whitelistAllows(account.policy.login.ipWhitelist, request.ip)) return;
  await deps.audit.record('token.refused', {
    actor: { type: 'user', id: account.accountId },
    organizationId: account.organizationId,
    target: { type: 'user', id: account.accountId },
    request,
    data: { clientId: ctx.oidc.client?.clientId, sessionType, route, grantType: ctx.oidc.params?.grant_type ?? null, reason: 'ip-not-allowed' },
  });
  throw route === 'token' ? new errors.InvalidGrant(NETWORK_REFUSED) : new errors.InvalidToken(NETWORK_REFUSED);
}
