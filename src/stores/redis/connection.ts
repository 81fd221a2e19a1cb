import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../../config/redis-url.js';
import type { DependencyMonitor } from '../../services/dependencies.js';

/** A client of one server or of a Sentinel set (both `Redis`), or of a Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * The Redis client for a target (src/config/redis-url.ts), set to fail fast rather than wait: with Redis
 * down a command is refused at once (no offline queue, no per-command retries), with Redis slow it is
 * abandoned after `timeoutMs`, and the connection itself keeps being re-established in the background.
 *
 * - One server: as named by the URL.
 * - Sentinel: the sentinels are asked for the master; after a failover (the demoted master drops its
 *   clients' connections) the client asks them again and reconnects to the new master.
 * - Cluster: the nodes given are asked for the slot map; commands go to the master of their key's slot,
 *   following MOVED/ASK redirections; the map is refreshed as the cluster changes.
 */
export function createRedisClient(target: RedisTarget, timeoutMs: number): RedisClient {
  const failFast = {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
  } satisfies RedisOptions;
  // Never give up reconnecting: back off to at most 2 s between attempts.
  const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2000);

  if (target.mode === 'standalone') {
    return new Redis(target.url, { ...failFast, enableOfflineQueue: false, retryStrategy });
  }
  if (target.mode === 'sentinel') {
    return new Redis({
      ...failFast,
      enableOfflineQueue: false,
      retryStrategy,
      sentinels: target.sentinels,
      name: target.name,
      username: target.username,
      password: target.password,
      sentinelPassword: target.sentinelPassword,
      db: target.db,
      sentinelCommandTimeout: timeoutMs,
      // Keep asking the sentinels while none answers, however long the outage.
      sentinelRetryStrategy: retryStrategy,
      // A failover reaches the client as a dropped connection (Redis closes its clients' connections when
      // it is demoted to replica): it asks the sentinels again and reconnects to the new master.
    });
  }
  return new Cluster(target.nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: retryStrategy,
    // A node that closes is reconnected to; the slot map is refreshed on MOVED and every few seconds.
    clusterNodeRetryStrategy: retryStrategy,
    slotsRefreshTimeout: timeoutMs,
    // On a closed connection or CLUSTERDOWN, retry once or twice while the cluster fails over, within
    // about the command timeout; past it the command fails (503) like any other Redis outage.
    retryDelayOnFailover: Math.max(50, Math.floor(timeoutMs / 4)),
    retryDelayOnClusterDown: Math.max(50, Math.floor(timeoutMs / 4)),
    maxRedirections: 4,
    redisOptions: { ...failFast, username: target.username, password: target.password },
  });
}

/**
 * Opens the client and wires it to the dependency monitor: connection loss and return are reported
 * (the monitor logs each outage once), and a probe pings while Redis is down.
 */
export async function openRedis(options: { target: RedisTarget; timeoutMs: number }, monitor: DependencyMonitor): Promise<RedisClient> {
  const redis = createRedisClient(options.target, options.timeoutMs);
  // Without an 'error' listener ioredis prints every failed reconnect; the monitor logs the outage once.
  redis.on('error', (err: Error) => monitor.reportDown('redis', err));
  redis.on('close', () => monitor.reportDown('redis'));
  redis.on('ready', () => monitor.reportUp('redis'));
  monitor.probe('redis', () => redis.ping());
  // Commands are refused until the connection is ready: wait for it, but no longer than the timeout
  // allows. A Redis that is down at start is an outage like any other (503 until it answers).
  const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, Math.max(options.timeoutMs, 1000)).unref());
  await Promise.race([ready, timeout]);
  if (redis.status !== 'ready') monitor.reportDown('redis');
  return redis;
}
