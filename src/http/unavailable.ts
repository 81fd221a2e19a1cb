import type { Context, Next } from 'koa';
import { render } from '../interaction/views.js';
import { requestScopes } from '../observability/request-context.js';
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

/** Takes back one consumed artifact (OidcStore.unconsume). */
export type TakeBack = (model: string, id: string, claim: string) => Promise<void>;

/** How often, and for how long, a take-back that could not be made (the store itself is down) is tried again. */
const TAKE_BACK_RETRY_MS = 100;
const TAKE_BACK_GIVE_UP_MS = 10 * 60_000;

/**
 * A request that consumed a refresh token or code and then failed for want of a backing service never
 * handed out the successor: the client still holds only what it sent, and will send it again after
 * Retry-After. Left consumed, that retry would read as reuse and revoke the whole grant. So each such
 * consume is taken back; if the store that holds it is the one that is down, again every
 * TAKE_BACK_RETRY_MS until it answers, and at once when the monitor sees a service back: a client that
 * retries sooner than Retry-After must not reach the store before the take-back does (on Redis the
 * take-back is the first command on the new connection).
 */
function takeBackConsumed(takeBack: TakeBack, monitor: DependencyMonitor): void {
  const consumed = requestScopes.getStore()?.consumed?.splice(0);
  if (!consumed?.length) return;
  const giveUp = Date.now() + TAKE_BACK_GIVE_UP_MS;
  let running = false;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = async (): Promise<void> => {
    // One attempt at a time: the same take-back twice could undo a consume the client made since.
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    const left: typeof consumed = [];
    await Promise.all(consumed.map((c) => takeBack(c.model, c.id, c.claim).catch(() => void left.push(c))));
    consumed.splice(0, consumed.length, ...left);
    running = false;
    if (consumed.length && again) {
      again = false;
      return attempt();
    }
    if (consumed.length && Date.now() < giveUp) timer = setTimeout(() => void attempt(), TAKE_BACK_RETRY_MS).unref();
    else stopListening();
  };
  const stopListening = monitor.onUp(() => void attempt());
  void attempt();
}

/**
 * The one place where "a backing service is unavailable" becomes an answer: 503 with Retry-After, as a
 * page for browsers, problem+json for the admin API, an OAuth-style JSON error otherwise. Covers errors
 * thrown by Gatehouse's routers and, through markIfUnavailable, those oidc-provider already rendered.
 * Whatever the request consumed is taken back (takeBackConsumed). Everything else passes through untouched.
 */
export function failClosedWhenUnavailable(monitor: DependencyMonitor, takeBack?: TakeBack) {
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
    if (takeBack) takeBackConsumed(takeBack, monitor);
    await answerUnavailable(ctx);
  };
}

/** The 503 answer itself (with Retry-After), for a caller that learned of the outage another way (the console, from its token request). */
export async function answerUnavailable(ctx: Context): Promise<void> {
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
