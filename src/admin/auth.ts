import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Actor } from '../services/audit.js';
import type { AccountService } from '../services/accounts.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { problems } from './problem.js';
import { ADMIN_SCOPE } from '../provider/admin-resource.js';

/** Who is calling: the platform-admin machine client, or a user (an organization's owner or admin). */
export type Principal =
  | { kind: 'platform'; clientId: string; actor: Actor }
  | { kind: 'user'; account: AccountRecord; actor: Actor };


/**
 * Resolves the Bearer token to a principal. Tokens are Gatehouse's own opaque access tokens for the
 * admin API resource, looked up in the token store, so a revoked or expired token stops at once.
 */
export async function authenticate(
  ctx: Context,
  deps: { provider: Provider; accounts: AccountService; adminResource: string; bootstrapClientId?: string },
): Promise<Principal> {
  const match = /^Bearer ([\w.~+/-]+=*)$/.exec(ctx.get('authorization'));
  if (!match) throw problems.unauthorized();
  const value = match[1]!;
  const token = (await deps.provider.AccessToken.find(value)) ?? (await deps.provider.ClientCredentials.find(value));
  if (!token) throw problems.unauthorized('the access token is invalid, expired or revoked');
  const audience = (token as { aud?: string | string[] }).aud;
  const forAdmin = Array.isArray(audience) ? audience.includes(deps.adminResource) : audience === deps.adminResource;
  if (!forAdmin || !token.scopes.has(ADMIN_SCOPE)) throw problems.forbidden(`the token lacks the "${ADMIN_SCOPE}" scope for ${deps.adminResource}`);

  const accountId = (token as { accountId?: string }).accountId;
  if (!accountId) {
    if (deps.bootstrapClientId && token.clientId === deps.bootstrapClientId) {
      return { kind: 'platform', clientId: token.clientId, actor: { type: 'client', id: token.clientId } };
    }
    throw problems.forbidden('only the platform-admin client may call the admin API without a user');
  }
  const account = await deps.accounts.findById(accountId);
  if (!account || account.status !== 'active') throw problems.unauthorized('the token\'s user is disabled or gone');
  return { kind: 'user', account, actor: { type: 'user', id: account.id } };
}

export function requirePlatform(p: Principal): void {
  if (p.kind !== 'platform') throw problems.forbidden('this needs the platform administrator');
}

/** Platform admins reach every organization; owners and admins only their own. */
export function requireOrgAdmin(p: Principal, organizationId: string): void {
  if (p.kind === 'platform') return;
  const { organizationId: own, orgRole } = p.account;
  if (own !== organizationId || (orgRole !== 'owner' && orgRole !== 'admin')) {
    throw problems.forbidden('you are not an owner or admin of this organization');
  }
}
