import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

/**
 * What Gatehouse knows about the request being served, wherever the code runs during it (services,
 * stores, oidc-provider's callbacks): its id, its logger, and sign-in locks it armed (counted as
 * lockouts when the request ends, unless it lifted them again). Set by `observeRequests`.
 */
export interface RequestScope {
  readonly id: string;
  /** The request's child logger, made on first use (see requestLogger). */
  logger?: Logger;
  /** Attempt counters this request brought to the lockout threshold and did not give back (yet). */
  armedLocks?: Set<string>;
  /** Reads done once for this request (see oncePerRequest). */
  reads?: Map<string, Promise<unknown>>;
  /** Artifacts (refresh tokens, codes…) this request consumed: taken back if it fails for want of a backing service. */
  consumed?: Array<{ model: string; id: string; claim: string }>;
}

export const requestScopes = new AsyncLocalStorage<RequestScope>();

/** An incoming X-Request-Id is kept only when it is this: short, and nothing a log line or header could misread. */
export const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The id of the request being served; null outside a request (background jobs, the CLI). */
export function currentRequestId(): string | null {
  return requestScopes.getStore()?.id ?? null;
}

/** The request's pino child logger (bindings: requestId), made once per request and only when asked for. */
export function requestLogger(scope: RequestScope, parent: Logger): Logger {
  return (scope.logger ??= parent.child({ requestId: scope.id }));
}

/**
 * The same read asked for twice while serving one request is done once: oidc-provider looks the client
 * up at several points of one request, and findAccount runs more than once on some routes. The result
 * lives only as long as the request (nothing is kept across requests or nodes); a read that fails is
 * not kept. Outside a request, `read` runs every time.
 */
export function oncePerRequest<T>(key: string, read: () => Promise<T>): Promise<T> {
  const scope = requestScopes.getStore();
  if (!scope) return read();
  const reads = (scope.reads ??= new Map());
  const known = reads.get(key) as Promise<T> | undefined;
  if (known) return known;
  const reading = read();
  reads.set(key, reading);
  reading.catch(() => reads.delete(key));
  return reading;
}
