import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Actor } from '../services/audit.js';
import type { AccountService } from '../services/accounts.js';
import type { ClientService } from '../services/clients.js';
import type { PolicyService } from '../services/policies.js';
import { ipInList } from '../policy/ip.js';
import { requestInfo } from '../http/request-info.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { problems } from './problem.js';
import { ADMIN_SCOPE } from '../provider/admin-resource.js';

/**
 * Who is calling: a platform admin (the bootstrap machine client, or a person whose account has the
 * platform-admin flag: then `account` is set and the actor is the user), or a user (an organization's
 * owner or admin). `clientId`: the client the token was issued to.
 */
export type Principal =
  | { kind: 'platform'; clientId: string; account?: AccountRecord; actor: Actor }
  | { kind: 'user'; account: AccountRecord; actor: Actor };


/** What resolving an admin token needs (the admin API's and the console's deps alike). */
export interface TokenDeps {
  provider: Provider;
  accounts: AccountService;
  clients: ClientService;
  policies: PolicyService;
  adminResource: string;
  trustedProxies: readonly string[];
  bootstrapClientId?: string;
}

/** Resolves the Bearer token of an admin API request to a principal (see principalOfToken). */
export async function authenticate(ctx: Context, deps: TokenDeps): Promise<Principal> {
  const match = /^Bearer ([\w.~+/-]+=*)$/.exec(ctx.get('authorization'));
  if (!match) throw problems.unauthorized();
  return principalOfToken(ctx, match[1]!, deps);
}

/**
 * Resolves an access token to a principal: the admin API's bearer tokens and the console's stored ones
 * alike, so both refuse the same tokens. Tokens are Gatehouse's own opaque access tokens for the
 * admin API resource, looked up in the token store, so a revoked or expired token stops at once. What
 * the principal may do is policy/authorization.ts's business; here: is the token an admin token, from a
 * first-party client, and (for a user) does the IP whitelist of the user's policy admit the caller.
 */
export async function principalOfToken(ctx: Context, value: string, deps: TokenDeps): Promise<Principal> {
  const token = (await deps.provider.AccessToken.find(value)) ?? (await deps.provider.ClientCredentials.find(value));
  if (!token) throw problems.unauthorized('the access token is invalid, expired or revoked');
  const audience = (token as { aud?: string | string[] }).aud;
  const forAdmin = Array.isArray(audience) ? audience.includes(deps.adminResource) : audience === deps.adminResource;
  if (!forAdmin || !token.scopes.has(ADMIN_SCOPE)) throw problems.forbidden(`the token lacks the "${ADMIN_SCOPE}" scope for ${deps.adminResource}`);
  // The provider never issues one to a third-party client (provider/index.ts); this holds even for a
  // token issued before a client was marked third-party, whatever its grant says.
  if (!(await deps.clients.find(token.clientId!))?.firstParty) {
    throw problems.forbidden('admin API tokens are accepted only from first-party clients');
  }

  const accountId = (token as { accountId?: string }).accountId;
  if (!accountId) {
    if (deps.bootstrapClientId && token.clientId === deps.bootstrapClientId) {
      return { kind: 'platform', clientId: token.clientId, actor: { type: 'client', id: token.clientId } };
    }
    throw problems.forbidden('only the platform-admin client may call the admin API without a user');
  }
  const account = await deps.accounts.findById(accountId);
  if (!account || account.status !== 'active') throw problems.unauthorized('the token\'s user is disabled or gone');
  // An admin call with the user's own token comes from the user's device: their policy's IP whitelist applies.
  const whitelist = (await deps.policies.effectiveFor(account)).policy.login.ipWhitelist;
  const { ip } = requestInfo(ctx, deps.trustedProxies);
  if (whitelist.enabled && !(ip !== null && ipInList(ip, whitelist.cidrs))) {
    throw problems.forbidden(`the IP whitelist of your security policy does not include your address (${ip ?? 'unknown'})`);
  }
  // Read fresh on every request, like the status above: a revoked flag or a disabled account stops the next call.
  if (account.platformAdmin) return { kind: 'platform', clientId: token.clientId!, account, actor: { type: 'user', id: account.id } };
  return { kind: 'user', account, actor: { type: 'user', id: account.id } };
}
