import { Redis } from 'ioredis';
import type { DependencyMonitor } from '../../services/dependencies.js';

/**
 * The Redis client, set to fail fast rather than wait: with Redis down a command is refused at once
 * (no offline queue, no per-command retries), with Redis slow it is abandoned after `timeoutMs`, and the
 * connection itself keeps being re-established in the background, so Gatehouse recovers without a restart.
 * Connection loss and return are reported to the monitor, which logs each outage once.
 */
export async function openRedis(options: { url: string; timeoutMs: number }, monitor: DependencyMonitor): Promise<Redis> {
  const redis = new Redis(options.url, {
    connectTimeout: options.timeoutMs,
    commandTimeout: options.timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Never give up reconnecting: back off to at most 2 s between attempts.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  // Without an 'error' listener ioredis prints every failed reconnect; the monitor logs the outage once.
  redis.on('error', (err) => monitor.reportDown('redis', err));
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
