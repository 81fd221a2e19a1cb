import { ASSET_PATHS, staticAssets } from './http/assets.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AppConfig } from './config/index.js';
import { FlowStore } from './interaction/flow.js';
import { interactionRouter } from './interaction/router.js';
import { passwordPages } from './interaction/password-pages.js';
import { accountPages } from './interaction/account/index.js';
import { invitationPages } from './interaction/invitation-pages.js';
import { createLogger } from './logger.js';
import { inputGuard } from './http/input-guard.js';
import { policyUnavailable } from './http/policy-unavailable.js';
import { ipInList } from './policy/ip.js';
import { nowSeconds } from './stores/db.js';
import { createProvider } from './provider/index.js';
import { SigningKeyRefresher } from './provider/signing-keys.js';
import { adminResourceOf } from './provider/admin-resource.js';
import { concurrentWebSessionGuard } from './provider/concurrent-sessions.js';
import { sessionDevices } from './provider/session-devices.js';
import { recordBackchannelOutcomes } from './provider/backchannel.js';
import { adminRouter } from './admin/router.js';
import { CONSOLE_CLIENT_ID, consolePages } from './console/index.js';
import { failClosedWhenUnavailable } from './http/unavailable.js';
import { languages } from './i18n/index.js';
import { assertPoliciesReadable, cookieKeys, openServices, type Services } from './services/index.js';
import { NO_METRICS, PrometheusMetrics } from './observability/metrics.js';
import { observeRequests } from './observability/http.js';
import { healthEndpoints } from './observability/health.js';
import { startMetricsListener, type MetricsListener } from './observability/metrics-server.js';

export interface App {
  config: AppConfig;
  provider: Provider;
  services: Services;
  logger: Logger;
  /** The metrics listener (METRICS_PORT set), already listening. */
  metrics?: MetricsListener;
  /** Starts listening; resolves with the bound base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Stops: no new connections; requests already being served get up to `graceMs` (default
   * SHUTDOWN_GRACE_SECONDS) to finish, each answered with `Connection: close`; idle keep-alive
   * connections are closed at once and whatever is still open when the grace ends is cut. Then the
   * timers stop and the metrics listener, the database pool and Redis are closed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Koa's proxy mode believes X-Forwarded-* from anyone. Gatehouse turns it on only when TRUSTED_PROXIES is
 * set, and first removes those headers from requests whose socket peer is not a trusted proxy.
 */
function forwardedHeadersFromTrustedProxiesOnly(trustedProxies: string[]) {
  return async (ctx: Context, next: Next) => {
    const peer = ctx.req.socket.remoteAddress ?? '';
    if (!trustedProxies.length || !ipInList(peer, trustedProxies)) {
      for (const header of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded']) {
        delete ctx.req.headers[header];
      }
    }
    await next();
  };
}

/**
 * Every URL built from the request (oidc-provider's discovery and JWKS URI, form actions, redirects) uses
 * koa's href (protocol and host). They are pinned to ISSUER's here, before anything reads them, so Host,
 * X-Forwarded-Host, X-Forwarded-Proto and an absolute request target change no URL, behind a trusted
 * proxy or not: host, hostname, href and URL are getters on the app's request prototype, defined once
 * (no per-request property definitions), and the middleware rewrites what a request itself carries.
 * `ctx.secure` is left alone: cookies are Secure when the request really arrived over https (the
 * socket, or X-Forwarded-Proto from a trusted proxy).
 */
function pinnedToIssuer(provider: Provider, issuer: string) {
  const { origin, host, hostname } = new URL(issuer);
  // oidc-provider 9's Provider is the Koa application itself (its `.app` getter is deprecated).
  Object.defineProperties((provider as unknown as Koa).request, {
    host: { get: () => host, configurable: true },
    hostname: { get: () => hostname, configurable: true },
    href: {
      get(this: { originalUrl: string }) {
        return `${origin}${this.originalUrl}`;
      },
      configurable: true,
    },
    URL: {
      get(this: { originalUrl: string }) {
        return new URL(this.originalUrl, origin);
      },
      configurable: true,
    },
  });
  return async (ctx: Context, next: Next) => {
    const target = ctx.req.url ?? '/';
    if (!target.startsWith('/')) {
      // Absolute form (GET http://other.example/path): koa's href would be that URL; keep only path and query.
      const parsed = URL.parse(target, origin);
      ctx.req.url = ctx.originalUrl = ctx.request.originalUrl = parsed ? `${parsed.pathname}${parsed.search}` : '/';
    }
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  };
}

/** Response headers for every answer; pages also get no-store. oidc-provider adds script hashes to this CSP itself. */
async function securityHeaders(ctx: Context, next: Next) {
  ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'");
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  await next();
  // The Content-Type's start, not koa's response.is (which parses it with type-is on every answer).
  if (String(ctx.response.get('Content-Type')).startsWith('text/html')) ctx.set('Cache-Control', 'no-store');
}

/** The composition root: wires config → stores → services → provider and pages. */
export async function createApp(config: AppConfig, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // Metrics are collected only when there is a listener to serve them: otherwise nothing is measured.
  let dependencyUp: ((dependency: 'database' | 'redis') => boolean | undefined) | undefined;
  const prometheus = config.metrics ? new PrometheusMetrics({ dependencyUp: (d) => dependencyUp?.(d) }) : undefined;
  const services = await openServices(config, { logger, metrics: prometheus ?? NO_METRICS });
  dependencyUp = (d) => (d === 'redis' && !services.redis ? undefined : !services.dependencies.isDown(d));
  // Fail closed on a stored policy that no longer parses (item 19): refuse to start, naming the organization.
  await assertPoliciesReadable(services).catch(async (err) => {
    await services.close();
    throw err;
  });
  const jwks = await services.keys.ensure();
  if (config.bootstrapClient) await services.clients.ensureBootstrap(config.bootstrapClient.clientId, config.bootstrapClient.clientSecret);
  await services.clients.ensureConsole(CONSOLE_CLIENT_ID, config.issuer);
  const adminResource = adminResourceOf(config.issuer);
  const provider = createProvider({
    config,
    adminResource,
    jwks,
    cookieKeys: await cookieKeys(config, services),
    store: services.oidcStore,
    clients: services.clientStore,
    accounts: services.accounts,
    policies: services.policies,
    sessions: services.sessions,
    audit: services.audit,
    logger,
  });
  // Registrations are checked with the provider's own client rules before they are stored.
  const providerClients = provider.Client as unknown as { validate(metadata: Record<string, unknown>): Promise<void> };
  services.clients.checkMetadataWith((metadata) => providerClients.validate(metadata));
  // A rotation made anywhere (another node, the CLI) is signed with and published within KEYS_REFRESH_SECONDS.
  const keyRefresher = new SigningKeyRefresher(provider, services.keys, jwks, config.keysRefreshSeconds, logger);
  services.keys.onRotated(() => keyRefresher.refresh());
  keyRefresher.start();
  const flows = new FlowStore(services.oidcStore, config.lifetimes.interactionSeconds);
  const assets = await staticAssets();

  recordBackchannelOutcomes(provider, services, logger);
  if (prometheus) {
    provider.on('grant.success', (ctx) => prometheus.grant(ctx.oidc?.params?.grant_type));
    provider.on('grant.error', (ctx, err) => prometheus.grant(ctx.oidc?.params?.grant_type, err));
  }
  // First: the request id, the access log and the latency histogram cover every answer.
  provider.use(observeRequests(logger, services.metrics, { extraPaths: ASSET_PATHS }));
  provider.use(pinnedToIssuer(provider, config.issuer));
  provider.use(forwardedHeadersFromTrustedProxiesOnly(config.trustedProxies));
  provider.use(failClosedWhenUnavailable(services.dependencies, (model, id, claim) => services.oidcStore.unconsume(model, id, claim)));
  provider.use(securityHeaders);
  // Before anything reads a path, query or body: bad text is refused here, for every route (item 11).
  provider.use(inputGuard());
  // /healthz and /readyz: before anything that could reach a dependency.
  provider.use(healthEndpoints(services));
  provider.use(policyUnavailable);
  provider.use(concurrentWebSessionGuard(provider, services));
  provider.use(sessionDevices(services, config.trustedProxies, logger));
  provider.use(assets);
  provider.use(languages(config.defaultLocale));
  const interactions = interactionRouter({
    provider,
    flows,
    services,
    logger,
    trustedProxies: config.trustedProxies,
    expiryWarningDays: config.passwords.expiryWarningDays,
  });
  provider.use(interactions.routes());
  provider.use(interactions.allowedMethods());
  const pages = passwordPages({ provider, services, logger, trustedProxies: config.trustedProxies });
  provider.use(pages.routes());
  provider.use(pages.allowedMethods());
  const account = accountPages({ provider, services, logger, trustedProxies: config.trustedProxies });
  provider.use(account.routes());
  provider.use(account.allowedMethods());
  const invitations = invitationPages({ services, logger, trustedProxies: config.trustedProxies });
  provider.use(invitations.routes());
  provider.use(invitations.allowedMethods());
  const admin = adminRouter({
    provider,
    services,
    logger,
    issuer: config.issuer,
    adminResource,
    trustedProxies: config.trustedProxies,
    bootstrapClientId: config.bootstrapClient?.clientId,
  });
  provider.use(admin.routes());
  provider.use(admin.allowedMethods());
  /** This node's own listener, once bound: the console reaches the token endpoint there (see console/index.ts). */
  let ownAddress: string | undefined;
  const consoleRouter = consolePages({
    provider,
    services,
    logger,
    issuer: config.issuer,
    tokenOrigin: () => ownAddress ?? config.issuer,
    adminResource,
    trustedProxies: config.trustedProxies,
    bootstrapClientId: config.bootstrapClient?.clientId,
  });
  provider.use(consoleRouter.routes());
  provider.use(consoleRouter.allowedMethods());
  // Each runs once per interval across all nodes sharing the database (services/jobs.ts).
  const { jobs } = services;
  // Every minute (or interval, if shorter) the claims not checked for an interval are re-verified.
  jobs.every('domain-reverification', Math.min(60, config.dns.reverifyIntervalSeconds), () => services.domains.reverifyDue());
  jobs.every('password-expiry-warnings', config.passwords.expiryWarningIntervalSeconds, () => services.expiryWarnings.run());
  // Expired rows go: SQL artifacts (Redis expires its own), reset links a day past their expiry, lapsed attempt counters.
  jobs.every('sweep', config.sweepIntervalSeconds, () =>
    Promise.all([services.oidcStore.sweep(), services.resetTokens.sweep(nowSeconds() - 86400), services.accounts.sweepUnknownAddresses()]),
  );

  let metricsListener: MetricsListener | undefined;
  if (prometheus && config.metrics) {
    try {
      metricsListener = await startMetricsListener(prometheus, config.metrics, logger);
    } catch (err) {
      keyRefresher.stop();
      await services.close();
      throw err;
    }
  }

  let server: Server | undefined;
  let closing = false;
  const handle = provider.callback();
  return {
    config,
    provider,
    services,
    logger,
    metrics: metricsListener,
    listen(port = config.port, host = config.host) {
      server = createServer((req, res) => {
        // While shutting down, a request that still arrives on an open keep-alive connection is served,
        // and its connection closed after the answer.
        if (closing) res.setHeader('Connection', 'close');
        void handle(req, res);
      });
      return new Promise((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => {
          const { port: bound } = server!.address() as AddressInfo;
          const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
          ownAddress = `http://${local.includes(':') ? `[${local}]` : local}:${bound}`;
          resolve(`http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${bound}`);
        });
      });
    },
    async close(options = {}) {
      const graceMs = options.graceMs ?? config.shutdownGraceSeconds * 1000;
      closing = true;
      keyRefresher.stop();
      services.jobs.stop();
      if (server?.listening) {
        const s = server;
        // close() stops accepting and resolves once every connection has ended; idle ones end now.
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeIdleConnections();
        // Answers finishing now close their connection (closing is set); connections that go idle
        // between requests are closed as they do; past the grace, whatever is left is cut.
        const sweep = setInterval(() => s.closeIdleConnections(), 100);
        const cut = setTimeout(() => {
          logger.warn({ graceMs }, 'shutdown grace over: closing the connections still open');
          s.closeAllConnections();
        }, graceMs);
        await closed;
        clearInterval(sweep);
        clearTimeout(cut);
      }
      await metricsListener?.close();
      await services.close();
    },
  };
}
