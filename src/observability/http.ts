import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { REQUEST_ID, requestLogger, requestScopes, type RequestScope } from './request-context.js';

/** Paths that no router matches but that are served, each its own route label. Everything else unmatched is one label. */
const UNROUTED_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The route label of a request: the pattern of the route that served it (`/interaction/:uid`,
 * `/admin/v1/organizations/:orgId/domains`), never the path itself, so ids and uids never become
 * labels. Both oidc-provider's router and @koa/router leave the pattern in `_matchedRoute`.
 */
export function routeLabel(ctx: Context, extraPaths: ReadonlySet<string>): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const path = ctx.path;
  return UNROUTED_PATHS.has(path) || extraPaths.has(path) ? path : 'unmatched';
}

function statusOf(err: unknown): number {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/**
 * The outermost middleware. Gives each request an id (a well-formed incoming X-Request-Id, else a new
 * UUID) returned in X-Request-Id, and runs the rest of the request in a scope that carries it (audit
 * events and log lines written meanwhile take it from there); when it ends, writes the access log
 * (the request's child logger, debug level), observes the latency histogram and counts the lockouts
 * the request caused.
 */
export function observeRequests(logger: Logger, metrics: Metrics, options: { extraPaths?: Iterable<string> } = {}) {
  const extraPaths = new Set(options.extraPaths ?? []);
  const accessLogged = () => logger.isLevelEnabled('debug');
  return (ctx: Context, next: Next): Promise<void> => {
    const incoming = ctx.get('x-request-id');
    const id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', id);
    (ctx.state as { requestId?: string }).requestId = id;
    const scope: RequestScope = { id };
    const started = performance.now();
    return requestScopes.run(scope, async () => {
      let status: number | undefined;
      try {
        await next();
      } catch (err) {
        status = statusOf(err);
        // koa's error handler clears the response headers and sets only the error's own: keep the id.
        if (err && typeof err === 'object') {
          try {
            const e = err as { headers?: Record<string, string> };
            e.headers = { ...e.headers, 'X-Request-Id': id };
          } catch {
            // a frozen error: the answer goes out without the header
          }
        }
        throw err;
      } finally {
        status ??= ctx.status;
        const ms = performance.now() - started;
        if (metrics.enabled) {
          metrics.httpRequest(routeLabel(ctx, extraPaths), ctx.method, status, ms / 1000);
          if (scope.armedLocks?.size) metrics.lockouts(scope.armedLocks.size);
        }
        // Path only: query strings and bodies can carry codes and tokens.
        if (accessLogged()) requestLogger(scope, logger).debug({ method: ctx.method, path: ctx.path, status, ms: Math.round(ms) }, 'request');
      }
    });
  };
}
