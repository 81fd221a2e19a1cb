import { timingSafeEqual } from 'node:crypto';
import { oncePerRequest } from '../observability/request-context.js';
import { OIDC_SCOPES } from './scopes.js';
import Provider, { errors, type Account, type Configuration, type KoaContextWithOIDC, type JWKS } from 'oidc-provider';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/index.js';
import { absoluteLifetimeSeconds, browserSessionTtl, refreshTokenTtl, type SessionSettings, type SessionType } from '../policy/session-lifetimes.js';
import { DEFAULT_POLICY, type SecurityPolicy } from '../policy/security-policy.js';
import type { PolicyService } from '../services/policies.js';
import { PolicyUnreadableError } from '../services/errors.js';
import type { AccountService } from '../services/accounts.js';
import type { AuditService } from '../services/audit.js';
import type { SessionService } from '../services/sessions.js';
import { digestClientSecret, SESSION_TYPES } from '../services/clients.js';
import type { OidcStore } from '../stores/oidc-store.js';
import type { ClientStore } from '../stores/sql/clients.js';
import { nowSeconds } from '../stores/db.js';
import { LOCALES, m, useUiLocales } from '../i18n/index.js';
import { render } from '../interaction/views.js';
import { adapterFactory } from './adapter.js';
import { backchannelLogoutFetch } from './backchannel.js';
import { markIfUnavailable } from '../http/unavailable.js';
import { ADMIN_SCOPE } from './admin-resource.js';
import { gatehouseInteractionPolicy, refuseDeviceOutsideWhitelist } from './checkpoints.js';

export interface ProviderDeps {
  config: AppConfig;
  /** The admin API's resource identifier: opaque tokens with scope "admin". */
  adminResource: string;
  /** Private signing keys, current first (services/keys). */
  jwks: { keys: object[] };
  cookieKeys: string[];
  store: OidcStore;
  clients: ClientStore;
  accounts: AccountService;
  policies: PolicyService;
  sessions: SessionService;
  audit: AuditService;
  logger: Logger;
}

/** The account oidc-provider loads for every token it issues, carrying the policy in force for it right now. */
export interface GatehouseAccount extends Account {
  policy: SecurityPolicy;
  /** The organization whose policy it is (null: the baseline), for audit events about this account. */
  organizationId: string | null;
  email: string;
}

type Client = KoaContextWithOIDC['oidc']['client'];
/** Registered by Gatehouse's operator as its own application (clients' first_party metadata); anything else is third-party. */
const firstParty = (client: Client | undefined): boolean => (client as { first_party?: boolean } | undefined)?.first_party === true;
export const sessionTypeOf = (client: Client | undefined): SessionType =>
  ((client as { session_type?: SessionType } | undefined)?.session_type ?? 'web');

/**
 * The session settings of the account the request is about. oidc-provider's TTL functions are
 * synchronous, so they read the policy that findAccount (asynchronous, run before any token or session
 * is saved) attached to the account; without an account, the contract defaults.
 */
const sessionSettingsOf = (ctx: KoaContextWithOIDC | undefined): SessionSettings =>
  (ctx?.oidc?.entities?.Account as GatehouseAccount | undefined)?.policy.session ?? DEFAULT_POLICY.session;

/** An OAuth temporarily_unavailable error answered 503 (oidc-provider's errors are 400 unless told). */
function temporarilyUnavailable(): Error {
  const err = new errors.TemporarilyUnavailable('the security policy that governs this account cannot be read');
  Object.assign(err, { status: 503, statusCode: 503, expose: true });
  return err;
}

/** Builds the oidc-provider instance: every option Gatehouse sets, with the reason beside it. */
export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const lt = config.lifetimes;
  const ceiling = lt.refreshTokenMaxHours;
  const checkpoints = { trustedProxies: config.trustedProxies, sessions: deps.sessions, audit: deps.audit };

  async function findAccount(ctx: KoaContextWithOIDC, id: string): Promise<GatehouseAccount | undefined> {
    // The account and its governing policy, read together on every token issuance, never cached: a
    // disabled account or a revoked claim holds at the next refresh.
    const read = await deps.policies.accountWithPolicy(id).catch((err) => {
      // Fail closed: an unreadable stored policy refuses the token or sign-in (503), never the defaults.
      if (err instanceof PolicyUnreadableError) throw temporarilyUnavailable();
      throw err;
    });
    if (!read || read.account.status !== 'active') return undefined;
    const { account } = read;
    const { policy, organizationId } = read.effective;
    const found: GatehouseAccount = {
      accountId: account.id,
      policy,
      organizationId,
      email: account.email,
      async claims() {
        // email_verified: the user followed an invitation or reset link mailed to this address to the end.
        return { sub: account.id, email: account.email, email_verified: account.emailVerifiedAt !== null, name: account.name ?? undefined };
      },
    };
    // Token and userinfo requests of mobile and desktop clients come from the device: the IP whitelist holds there.
    await refuseDeviceOutsideWhitelist(ctx, found, checkpoints);
    return found;
  }

  const configuration: Configuration = {
    adapter: adapterFactory(deps.store, deps.clients),
    jwks: deps.jwks as JWKS,
    cookies: {
      keys: deps.cookieKeys,
      // HttpOnly and SameSite=Lax on every cookie; Secure whenever the request arrived over https.
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // Read fresh for every request (never across requests: a disabled account or a changed policy holds
    // at once); within one request, once.
    findAccount: (ctx, id) => oncePerRequest(`account:${id}`, () => findAccount(ctx, id)),
    // amr, with scope openid, tells relying parties whether the sign-in used a second factor (['pwd', 'otp', 'mfa']).
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the claims of the granted scopes (email, profile), not only userinfo: many
    // relying parties read only the ID token. oidc-provider's default (true) keeps them for userinfo.
    conformIdTokenClaims: false,
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    discovery: {
      claim_types_supported: ['normal'],
      // The languages of the pages (ui_locales picks one), and where a relying party can send its users
      // to see their sessions, devices and sign-in methods (not an OpenID standard field; Keycloak and
      // others publish the same thing under their own names).
      ui_locales_supported: [...LOCALES],
      account_url: `${config.issuer}/account`,
    },
    // PKCE (S256, the only method oidc-provider 9 accepts) for every client, confidential ones too.
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    extraClientMetadata: {
      properties: ['session_type', 'first_party'],
      validator(_ctx, key, value) {
        if (key === 'session_type' && !SESSION_TYPES.includes(value as SessionType)) {
          throw new errors.InvalidClientMetadata('session_type must be web, mobile or desktop');
        }
        if (key === 'first_party' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('first_party must be a boolean');
        }
      },
    },
    features: {
      devInteractions: { enabled: false },
      // Public clients may introspect only their own tokens; confidential clients (resource servers among
      // them) may introspect any token of this issuer.
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => client.clientAuthMethod !== 'none' || token.clientId === client.clientId,
      },
      // RFC 7009: a client revokes only tokens issued to it.
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          useUiLocales(ctx as never, ctx.oidc.params?.ui_locales);
          await render(ctx as never, 'logout', { form, clientName: ctx.oidc.client?.clientName ?? null, clientId: ctx.oidc.client?.clientId ?? null });
        },
        async postLogoutSuccessSource(ctx) {
          useUiLocales(ctx as never, ctx.oidc.params?.ui_locales);
          await render(ctx as never, 'logged-out', { clientName: ctx.oidc.client?.clientName ?? null });
        },
      },
      resourceIndicators: {
        enabled: true,
        // Asking for scope "admin" without a resource means the admin API, for first-party clients; a
        // third-party client's "admin" is an unknown scope, dropped, so its consent page never offers it.
        defaultResource: (ctx, client, oneOf) =>
          oneOf ??
          (firstParty(client) && String(ctx.oidc.params?.scope ?? '').split(' ').includes(ADMIN_SCOPE) ? deps.adminResource : undefined!),
        // A code or refresh token issued for a resource keeps serving it without repeating `resource`.
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator, client) {
          if (resourceIndicator === deps.adminResource) {
            // Never for a third-party client, whatever was consented to: at /auth, /token and refresh alike.
            if (!firstParty(client)) throw new errors.InvalidTarget('the admin API is not available to third-party clients');
            // Machine access to the admin API is the bootstrap client's alone; users reach it through their
            // own sign-in, and the API then checks their organization role.
            if (ctx.oidc.params?.grant_type === 'client_credentials' && client.clientId !== config.bootstrapClient?.clientId) {
              throw new errors.InvalidTarget('only the platform-admin client may use client credentials for the admin API');
            }
            return {
              scope: ADMIN_SCOPE,
              audience: deps.adminResource,
              accessTokenFormat: 'opaque', // looked up on every call, so revocation is immediate
              accessTokenTTL: lt.accessTokenSeconds,
            };
          }
          const server = config.resourceServers[resourceIndicator];
          if (!server) throw new errors.InvalidTarget();
          return {
            scope: server.scopes.join(' '),
            audience: resourceIndicator,
            accessTokenFormat: 'jwt', // RFC 9068, verifiable with the JWKS alone
            accessTokenTTL: lt.accessTokenSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => lt.accessTokenSeconds,
      ClientCredentials: () => lt.accessTokenSeconds,
      AuthorizationCode: () => 60,
      IdToken: () => lt.idTokenSeconds,
      Interaction: () => lt.interactionSeconds,
      // session.webTimeoutHours after sign-in however active; sooner after webIdleTimeoutMinutes without a
      // request (the session is saved again, with a fresh TTL, by every request that uses it).
      Session: (ctx, session) => browserSessionTtl(sessionSettingsOf(ctx), session.loginTs ?? nowSeconds(), nowSeconds()),
      // An absolute time after the sign-in (iiat survives rotation), by the client's session_type; web
      // refresh tokens also lapse after the idle timeout, each refresh being activity.
      RefreshToken: (ctx, token, client) =>
        refreshTokenTtl(sessionTypeOf(client), sessionSettingsOf(ctx), ceiling, token.iiat ?? nowSeconds(), nowSeconds()),
      Grant: (ctx) => absoluteLifetimeSeconds(sessionTypeOf(ctx?.oidc?.client), sessionSettingsOf(ctx), ceiling),
    },
    interactions: {
      // The default prompts plus Gatehouse's checks of an existing session: its account still active, its network allowed.
      policy: gatehouseInteractionPolicy(checkpoints),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async renderError(ctx, out) {
      useUiLocales(ctx as never, ctx.oidc?.params?.ui_locales);
      // oidc-provider's description is English only: it is shown as it is, inside a translated sentence.
      const message =
        out.error === 'invalid_request' || out.error === 'invalid_client' || out.error === 'invalid_redirect_uri'
          ? out.error_description
            ? m('The application sent an invalid sign-in request: {{detail}}', { detail: out.error_description })
            : m('The application sent an invalid sign-in request.')
          : m('We could not complete this request.');
      await render(ctx as never, 'error', { message, code: out.error }, ctx.status >= 400 ? ctx.status : 400);
    },
    clientBasedCORS: () => false,
    // Back-channel logout may reach the special-use destinations BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS names, no others.
    fetch: backchannelLogoutFetch(config.backchannelLogoutAllowed, deps.logger),
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustedProxies.length > 0;

  // Client secrets are stored as SHA-256 digests (services/clients): compare the digest of what was sent.
  const { Client } = provider;
  Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    const expected = Buffer.from(this.clientSecret ?? '');
    const given = Buffer.from(digestClientSecret(actual));
    return expected.length === given.length && timingSafeEqual(expected, given);
  } as never;

  // A backing service down is not a server error: answered 503 and logged once per outage (src/http/unavailable.ts).
  provider.on('server_error', (ctx, err) => markIfUnavailable(ctx as never, err) || deps.logger.error({ err }, 'oidc-provider server error'));
  provider.on('grant.revoked', (_ctx, grantId) => deps.logger.info({ event: 'grant.revoked', grantId }, 'grant revoked'));
  return provider;
}
