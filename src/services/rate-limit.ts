import type { RedisClient } from '../stores/redis/connection.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** A fixed-window limiter, shared by every node through Redis when there is one. */
export class Throttle {
  private readonly limiter: RateLimiterAbstract;

  constructor(name: string, points: number, durationSeconds: number, redis?: RedisClient, prefix = 'gatehouse:') {
    const options = { keyPrefix: `${prefix}rl:${name}`, points, duration: durationSeconds };
    this.limiter = redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options);
  }

  /** Takes one point for `key`; false when the key has none left. */
  async take(key: string): Promise<boolean> {
    try {
      await this.limiter.consume(key);
      return true;
    } catch (err) {
      if (err instanceof RateLimiterRes) return false;
      throw err;
    }
  }
}
