import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { failClosedWhenUnavailable } from '../../src/http/unavailable.js';
import { requestScopes } from '../../src/observability/request-context.js';
import { adapterFactory } from '../../src/provider/adapter.js';
import { DependencyMonitor, DependencyUnavailableError, type Dependency } from '../../src/services/dependencies.js';
import type { Db } from '../../src/stores/db.js';
import type { OidcStore } from '../../src/stores/oidc-store.js';
import { RedisOidcStore } from '../../src/stores/redis/oidc-store.js';
import { SqlOidcStore } from '../../src/stores/sql/oidc-store.js';
import { migratedDb, testBackend } from '../helpers/backend.js';
import { PrivateRedis } from '../helpers/private-redis.js';

/**
 * A request that consumed a refresh token (through the adapter oidc-provider uses) and then failed for
 * want of a backing service is answered 503 and takes the consume back, so the client's retry is not
 * taken for reuse (which revokes the grant). The failure is raised by the route at the point where
 * oidc-provider would next touch the store; the middleware, adapter and stores are the real ones.
 */
jest.setTimeout(30_000);

/** A tiny server: request scope, the fail-closed middleware, and a route that consumes then fails. */
async function serve(store: OidcStore, afterConsume: () => Promise<Dependency>, monitor = new DependencyMonitor()) {
  const app = new Koa();
  app.use((ctx, next) => requestScopes.run({ id: 'test' }, () => next()));
  app.use(failClosedWhenUnavailable(monitor, (model, id, claim) => store.unconsume(model, id, claim)));
  const Adapter = adapterFactory(store, undefined as never);
  app.use(async (ctx) => {
    await new Adapter('RefreshToken').consume(ctx.path.slice(1));
    throw new DependencyUnavailableError(await afterConsume());
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      monitor.stop();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function until(predicate: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('on the SQL store', () => {
  const database = migratedDb(() => testBackend({ embedded: true }));
  let db: Db;
  beforeAll(() => {
    db = database();
  });

  it('the database failing after the consume: 503 with Retry-After, and the refresh token can be used again', async () => {
    const store = new SqlOidcStore(db);
    await store.upsert('RefreshToken', 'rt-sql', { grantId: 'g-sql' }, 600);
    const server = await serve(store, async () => 'database');
    try {
      const res = await fetch(`${server.url}/rt-sql`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      await until(async () => (await store.find('RefreshToken', 'rt-sql'))?.consumed === undefined, 5000);
      expect(await store.consume('RefreshToken', 'rt-sql')).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('on the Redis store', () => {
  let redis: PrivateRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await PrivateRedis.onFreePort({ persistent: true });
    await redis.start();
    client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    await until(async () => client.status === 'ready', 5000);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.destroy();
  });

  it('Redis dying right after the consume: 503, and the consume is taken back once Redis is back', async () => {
    const store = new RedisOidcStore(client, 'tb:');
    await store.upsert('RefreshToken', 'rt-redis', { grantId: 'g-redis' }, 600);
    const server = await serve(store, async () => {
      await redis.stop();
      return 'redis';
    });
    try {
      const res = await fetch(`${server.url}/rt-redis`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      await redis.start();
      await until(async () => {
        try {
          return (await store.find('RefreshToken', 'rt-redis'))?.consumed === undefined;
        } catch {
          return false; // still reconnecting
        }
      }, 10_000);
      expect(await store.consume('RefreshToken', 'rt-redis')).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('the take-back is the first thing sent when Redis is back: a retry at that very moment finds its token usable', async () => {
    const store = new RedisOidcStore(client, 'tb:');
    await store.upsert('RefreshToken', 'rt-first', { grantId: 'g-first' }, 600);
    // As the app wires it (src/stores/redis/connection.ts): Redis is reported back when its connection is ready.
    const monitor = new DependencyMonitor(undefined, 60_000);
    monitor.probe('redis', () => Promise.reject(new Error('the connection says when it is back')));
    const server = await serve(store, async () => {
      await redis.stop();
      return 'redis';
    }, monitor);
    try {
      expect((await fetch(`${server.url}/rt-first`, { headers: { accept: 'application/json' } })).status).toBe(503);
      // The client retries the instant Redis answers again, well before Retry-After and before the take-back's timer.
      const retried = new Promise<boolean>((resolve, reject) => {
        client.once('ready', () => {
          monitor.reportUp('redis');
          store.consume('RefreshToken', 'rt-first').then(resolve, reject);
        });
      });
      await redis.start();
      expect(await retried).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a consume that lost to another request is reuse, not an outage: no 503, nothing taken back, the grant revoked', async () => {
    const store = new RedisOidcStore(client, 'tb:');
    await store.upsert('RefreshToken', 'rt-theirs', { grantId: 'g-theirs' }, 600);
    expect(await store.consume('RefreshToken', 'rt-theirs', 'their-claim')).toBe(true);
    // The route's consume loses (the adapter then revokes the grant and answers invalid_grant): nothing to take back.
    const server = await serve(store, async () => 'redis');
    try {
      const res = await fetch(`${server.url}/rt-theirs`, { headers: { accept: 'application/json' } });
      expect(res.status).not.toBe(503);
      expect(await store.find('RefreshToken', 'rt-theirs')).toBeUndefined(); // revoked with its grant
    } finally {
      await server.close();
    }
  });
});
