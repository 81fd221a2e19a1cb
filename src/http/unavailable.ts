import type { Context, Next } from 'koa';
import { render } from '../interaction/views.js';
import { dependencyOf, type Dependency, type DependencyMonitor } from '../services/dependencies.js';

/** Seconds a client is told to wait before retrying while a backing service is down. */
export const RETRY_AFTER_SECONDS = 5;

const FAILED = Symbol('dependency failure');
type MarkedState = { [FAILED]?: Dependency };

/**
 * oidc-provider catches errors inside its own routes (/auth, /token, /me …), renders `server_error`
 * itself and emits 'server_error'. Its listener calls this: a backing-service failure is remembered on
 * the request, so `failClosedWhenUnavailable` can turn the rendered 500 into a 503. True when it was one
 * (the caller then logs nothing: the monitor logs the outage once).
 */
export function markIfUnavailable(ctx: Context, err: unknown): boolean {
  const dependency = dependencyOf(err);
  if (dependency) (ctx.state as MarkedState)[FAILED] = dependency;
  return dependency !== undefined;
}

/**
 * The one place where "a backing service is unavailable" becomes an answer: 503 with Retry-After, as a
 * page for browsers, problem+json for the admin API, an OAuth-style JSON error otherwise. Covers errors
 * thrown by Gatehouse's routers and, through markIfUnavailable, those oidc-provider already rendered.
 * Everything else passes through untouched.
 */
export function failClosedWhenUnavailable(monitor: DependencyMonitor) {
  return async (ctx: Context, next: Next) => {
    let dependency: Dependency | undefined;
    try {
      await next();
      dependency = (ctx.state as MarkedState)[FAILED];
    } catch (err) {
      dependency = dependencyOf(err);
      if (!dependency) throw err;
      monitor.reportDown(dependency, err);
    }
    if (!dependency) return;
    monitor.reportDown(dependency);
    await answerUnavailable(ctx);
  };
}

async function answerUnavailable(ctx: Context): Promise<void> {
  ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  ctx.set('Cache-Control', 'no-store');
  const detail = 'The service is temporarily unavailable. Please try again in a moment.';
  if (ctx.path.startsWith('/admin/')) {
    ctx.status = 503;
    ctx.type = 'application/problem+json';
    ctx.body = { type: 'urn:gatehouse:problem:unavailable', title: 'Service unavailable', status: 503, detail };
  } else if (ctx.accepts('json', 'html') === 'html') {
    await render(ctx, 'error', { message: detail, code: 'temporarily_unavailable' }, 503);
  } else {
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable', error_description: detail };
  }
}
