import type { Logger } from 'pino';

/**
 * Gatehouse fails closed when a backing service (Redis, the SQL database) cannot answer: the request
 * gets 503 with Retry-After (src/http/unavailable.ts maps it, in one place), never a 500, never a hang.
 * This module names such failures and logs each outage once: when it starts and when it ends.
 */
export type Dependency = 'redis' | 'database';

/** Raised (or recognised, see dependencyOf) when a backing service is unreachable or too slow. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: Dependency,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
    this.name = 'DependencyUnavailableError';
  }
}

// What ioredis rejects commands with when Redis is down (enableOfflineQueue: false), slow (commandTimeout)
// or the connection dropped under a command.
const REDIS_MESSAGES = [
  'Command timed out',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Connection is closed.',
  // A Cluster whose slot map is not known yet (no node answered), or whose nodes all stopped answering.
  "Cluster isn't ready and enableOfflineQueue options is false",
  'None of startup nodes is available',
];
// Replies of a Redis that is there but cannot serve right now: a Cluster with slots not covered (a master
// down, no replica promoted yet) or redirecting past the limit; a master being failed over by Sentinel
// (demoted to replica, or lost by its replicas); a server still loading its data set.
const REDIS_PREFIXES = ['CLUSTERDOWN', 'TRYAGAIN', 'Too many Cluster redirections', 'READONLY', 'MASTERDOWN', 'LOADING'];
// What knex and pg reject with when PostgreSQL cannot be reached: no connection from the pool in time, a
// refused or reset socket, the server shutting down or not accepting connections, a connection lost.
const DATABASE_NAMES = ['KnexTimeoutError'];
const DATABASE_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006'];
const DATABASE_MESSAGES = ['Connection terminated', 'Client has encountered a connection error'];

/** Which backing service an error says is unavailable, if it says so. */
export function dependencyOf(thrown: unknown): Dependency | undefined {
  if (thrown instanceof DependencyUnavailableError) return thrown.dependency;
  // Shaped like an Error, not necessarily an instance of this realm's (socket errors made by Node's own
  // modules are not, under a VM context such as jest's).
  if (typeof thrown !== 'object' || thrown === null || typeof (thrown as Error).message !== 'string') return undefined;
  const err = thrown as Error;
  if (err.name === 'MaxRetriesPerRequestError' || REDIS_MESSAGES.includes(err.message)) return 'redis';
  if (REDIS_PREFIXES.some((p) => err.message.startsWith(p))) return 'redis';
  const code = (err as { code?: unknown }).code;
  if (DATABASE_NAMES.includes(err.name) || (typeof code === 'string' && DATABASE_CODES.includes(code))) return 'database';
  // knex prefixes the failed statement to the driver's message: "select … - Connection terminated unexpectedly".
  if (DATABASE_MESSAGES.some((m) => err.message.startsWith(m) || err.message.includes(` - ${m}`))) return 'database';
  return err.cause !== undefined && err.cause !== err ? dependencyOf(err.cause) : undefined;
}

/**
 * Tracks which backing services are down. The first failure of an outage is logged (error) and the
 * recovery once (info); requests in between log nothing. While a service is down a probe runs every
 * `probeMs` and marks it up again on success, so recovery needs no restart and no lucky request.
 */
export class DependencyMonitor {
  private readonly down = new Map<Dependency, ReturnType<typeof setInterval>>();
  private readonly probes = new Map<Dependency, () => Promise<unknown>>();
  /** A probe against a hung service may outlast the interval: never more than one at a time. */
  private readonly probing = new Set<Dependency>();
  private stopped = false;
  private readonly upListeners = new Set<(dependency: Dependency) => void>();

  constructor(
    private readonly logger?: Logger,
    private readonly probeMs = 1000,
  ) {}

  /** How to check that a service answers again (a PING, a `select 1`). */
  probe(dependency: Dependency, check: () => Promise<unknown>): void {
    this.probes.set(dependency, check);
  }

  /** Calls `listener` each time a service is back, at the moment it is known to be; returns how to stop. */
  onUp(listener: (dependency: Dependency) => void): () => void {
    this.upListeners.add(listener);
    return () => this.upListeners.delete(listener);
  }

  isDown(dependency: Dependency): boolean {
    return this.down.has(dependency);
  }

  reportDown(dependency: Dependency, err?: unknown): void {
    if (this.stopped || this.down.has(dependency)) return;
    const timer = setInterval(() => void this.check(dependency), this.probeMs);
    timer.unref();
    this.down.set(dependency, timer);
    const reason = err instanceof Error ? err.message || (err as { code?: string }).code : undefined;
    this.logger?.error({ event: 'dependency.down', dependency, reason }, `${dependency} unavailable: answering 503 until it is back`);
  }

  reportUp(dependency: Dependency): void {
    const timer = this.down.get(dependency);
    if (!timer) return;
    clearInterval(timer);
    this.down.delete(dependency);
    if (!this.stopped) this.logger?.info({ event: 'dependency.up', dependency }, `${dependency} is back`);
    for (const listener of [...this.upListeners]) listener(dependency);
  }

  private async check(dependency: Dependency): Promise<void> {
    const check = this.probes.get(dependency);
    if (!check) return this.reportUp(dependency); // nothing to probe with: the next request finds out
    if (this.probing.has(dependency)) return;
    this.probing.add(dependency);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // A probe that hangs (a pool still waiting on a dead connection) must not keep the outage open.
      await Promise.race([
        check(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('probe timed out')), this.probeMs * 2);
        }),
      ]);
      this.reportUp(dependency);
    } catch {
      // still down; the next tick tries again
    } finally {
      clearTimeout(timer);
      this.probing.delete(dependency);
    }
  }

  /** At shutdown: closing connections is not an outage. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.down.values()) clearInterval(timer);
    this.down.clear();
  }
}
