import { REDIS_URL } from '../helpers/backend.js';
import { Scrape } from '../helpers/metrics.js';
import { PrivateRedis } from '../helpers/private-redis.js';
import { startApp, type RunningApp } from '../helpers/server.js';

/**
 * Item 7 of issue 9: GET /healthz is liveness (the process answers; no dependency is asked), GET /readyz
 * is readiness (the database answers, Redis answers when configured, every registered migration is
 * applied): 200 with each check, else 503 naming the failing ones. Database and Redis failures are
 * real: the database is closed under the app, and the Redis is a private redis-server this file
 * starts and kills (never the shared one).
 */
const statement = (s: Scrape) => s.value('gatehouse_db_query_duration_seconds_count') + s.value('gatehouse_db_errors_total');

describe('on the backend the environment names', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ METRICS_PORT: '0' });
  });
  afterAll(() => running.stop());

  it('/readyz answers 200 with each check', async () => {
    const res = await fetch(`${running.issuer}/readyz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', ...(REDIS_URL ? { redis: 'ok' } : {}) },
    });
  });

  it('/readyz compares the applied migrations with the registered ones: one missing is 503 naming "migrations"', async () => {
    const db = running.app.services.db;
    const last = await db('knex_migrations').orderBy('id', 'desc').first();
    await db('knex_migrations').where({ id: last.id }).delete();
    try {
      const res = await fetch(`${running.issuer}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'unavailable', failing: ['migrations'], checks: { database: 'ok', migrations: 'pending' }, pendingMigrations: 1 });
    } finally {
      await db('knex_migrations').insert(last);
    }
    expect((await fetch(`${running.issuer}/readyz`)).status).toBe(200);
  });

  it('/healthz answers 200 without a single database statement or Redis command', async () => {
    const metricsUrl = running.app.metrics!.url;
    const redisCommands = (s: Scrape) => s.value('gatehouse_redis_command_duration_seconds_count') + s.value('gatehouse_redis_command_errors_total');
    const before = await Scrape.of(metricsUrl);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${running.issuer}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
    const after = await Scrape.of(metricsUrl);
    expect(statement(after)).toBe(statement(before));
    expect(redisCommands(after)).toBe(redisCommands(before));
    expect(after.value('gatehouse_http_request_duration_seconds_count', { route: '/healthz' }) - before.value('gatehouse_http_request_duration_seconds_count', { route: '/healthz' })).toBe(5);
  });
});

describe('with the database closed', () => {
  it('/healthz still answers 200; /readyz answers 503 naming "database"', async () => {
    const running = await startApp({ METRICS_PORT: '0' });
    try {
      await running.app.services.db.destroy();
      const live = await fetch(`${running.issuer}/healthz`);
      expect(live.status).toBe(200);
      const ready = await fetch(`${running.issuer}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', failing: ['database'], checks: { database: 'unreachable', migrations: 'skipped' } });
      // The failed connection is counted as a database error.
      expect((await Scrape.of(running.app.metrics!.url)).value('gatehouse_db_errors_total', { operation: 'connect' })).toBeGreaterThanOrEqual(1);
    } finally {
      await running.stop();
    }
  });
});

describe('with a Redis of its own', () => {
  let redis: PrivateRedis;
  let running: RunningApp;
  beforeAll(async () => {
    redis = await PrivateRedis.onFreePort();
    await redis.start();
    running = await startApp({ METRICS_PORT: '0', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'health-test:', REDIS_TIMEOUT_MS: '500' });
  });
  afterAll(async () => {
    await running.stop();
    await redis.stop();
  });

  it('Redis commands are timed; with Redis killed /readyz answers 503 naming "redis", /healthz 200, and the failures are counted', async () => {
    const metricsUrl = running.app.metrics!.url;
    const ready = await fetch(`${running.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: 'ok', redis: 'ok', migrations: 'ok' } });
    const before = await Scrape.of(metricsUrl);
    expect(before.value('gatehouse_redis_command_duration_seconds_count', { command: 'ping' })).toBeGreaterThanOrEqual(1);
    expect(before.value('gatehouse_dependency_up', { dependency: 'redis' })).toBe(1);

    await redis.stop();
    const down = await fetch(`${running.issuer}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', failing: ['redis'], checks: { database: 'ok', redis: 'unreachable', migrations: 'ok' } });
    expect((await fetch(`${running.issuer}/healthz`)).status).toBe(200);
    const after = await Scrape.of(metricsUrl);
    expect(after.value('gatehouse_redis_command_errors_total', { command: 'ping' })).toBeGreaterThan(before.value('gatehouse_redis_command_errors_total', { command: 'ping' }));
    expect(after.value('gatehouse_dependency_up', { dependency: 'redis' })).toBe(0);

    // Back: ready again without a restart.
    await redis.start();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await fetch(`${running.issuer}/readyz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});
