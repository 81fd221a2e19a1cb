import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { AppConfig } from './config/index.js';
import { FlowStore } from './interaction/flow.js';
import { interactionRouter } from './interaction/router.js';
import { passwordPages } from './interaction/password-pages.js';
import { createLogger } from './logger.js';
import { VIEWS_DIR } from './paths.js';
import { ipInList } from './policy/ip.js';
import { nowSeconds } from './stores/db.js';
import { createProvider } from './provider/index.js';
import { adminResourceOf } from './provider/admin-resource.js';
import { concurrentWebSessionGuard } from './provider/concurrent-sessions.js';
import { adminRouter } from './admin/router.js';
import { failClosedWhenUnavailable } from './http/unavailable.js';
import { cookieKeys, openServices, type Services } from './services/index.js';

export interface App {
  config: AppConfig;
  provider: Provider;
  services: Services;
  logger: Logger;
  /** Starts listening; resolves with the bound base URL. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
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

/** Response headers for every answer; pages also get no-store. oidc-provider adds script hashes to this CSP itself. */
async function securityHeaders(ctx: Context, next: Next) {
  ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  await next();
  if (ctx.response.is('html')) ctx.set('Cache-Control', 'no-store');
}

async function accessLog(logger: Logger, ctx: Context, next: Next) {
  const started = performance.now();
  try {
    await next();
  } finally {
    // Path only: query strings and bodies can carry codes and tokens.
    logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
  }
}

/** The composition root: wires config → stores → services → provider and pages. */
export async function createApp(config: AppConfig, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const services = await openServices(config, { logger });
  const jwks = await services.keys.ensure();
  if (config.bootstrapClient) await services.clients.ensureBootstrap(config.bootstrapClient.clientId, config.bootstrapClient.clientSecret);
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
    logger,
  });
  const flows = new FlowStore(services.oidcStore, config.lifetimes.interactionSeconds);
  const css = await readFile(join(VIEWS_DIR, 'assets', 'gatehouse.css'));

  provider.use(forwardedHeadersFromTrustedProxiesOnly(config.trustedProxies));
  provider.use((ctx, next) => accessLog(logger, ctx, next));
  provider.use(failClosedWhenUnavailable(services.dependencies));
  provider.use(securityHeaders);
  provider.use(concurrentWebSessionGuard(provider, services, logger));
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/assets/gatehouse.css') {
      ctx.type = 'text/css';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = css;
      return;
    }
    if (ctx.method === 'GET' && ctx.path === '/healthz') {
      await services.db.raw('select 1');
      if (services.redis) await services.redis.ping();
      ctx.body = { status: 'ok' };
      return;
    }
    await next();
  });
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
  services.domains.start();
  services.expiryWarnings.start();

  // Expired rows go: SQL artifacts (Redis expires its own) and reset links a day past their expiry.
  const sweeper = setInterval(() => {
    Promise.all([services.oidcStore.sweep(), services.resetTokens.sweep(nowSeconds() - 86400)]).catch((err) =>
      logger.warn({ err }, 'sweeping expired rows failed'),
    );
  }, config.sweepIntervalSeconds * 1000).unref();

  let server: Server | undefined;
  return {
    config,
    provider,
    services,
    logger,
    listen(port = config.port, host = config.host) {
      server = createServer(provider.callback());
      return new Promise((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => {
          const { port: bound } = server!.address() as AddressInfo;
          resolve(`http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${bound}`);
        });
      });
    },
    async close() {
      clearInterval(sweeper);
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await services.close();
    },
  };
}
