import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type Redis } from 'ioredis';
import knexFactory from 'knex';
import { loadConfig, type AppConfig } from '../../src/config/index.js';
import { parseRedisUrl } from '../../src/config/redis-url.js';
import { createRedisClient, type RedisClient } from '../../src/stores/redis/connection.js';
import { migrate, openDb, type Db } from '../../src/stores/db.js';

/**
 * Tests run on whatever backend the environment names, exactly as the server would: SQLite by default,
 * PostgreSQL with DATABASE_URL=postgres://…, Redis with REDIS_URL. Each test file gets its own SQLite
 * file, PostgreSQL schema and Redis key prefix, so files can run in parallel, and removes them after.
 */
export const PG_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;
export const REDIS_URL = process.env.REDIS_URL || undefined;

export interface TestBackend {
  env: Record<string, string>;
  config(extra?: Record<string, string>): AppConfig;
  cleanup(): Promise<void>;
}

/** `embedded`: SQLite and no Redis, whatever the environment says. */
export function testBackend(options: { embedded?: boolean } = {}): TestBackend {
  const pgUrl = options.embedded ? undefined : PG_URL;
  const redisUrl = options.embedded ? undefined : REDIS_URL;
  const tag = `t${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  const sqliteFile = join(tmpdir(), `gatehouse-${tag}.db`);
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // The defaults fail fast (a 1 s Redis command, a 2 s wait for a database connection). On a test
    // machine running a file per CPU, each with Chromium, an event loop kept off the CPU for a second
    // runs the timeout's timer before it reads the reply that came in time: a 503 the test is not
    // about. The tests of those timeouts set their own (test/faults, test/integration/redis-outage.test.ts).
    REDIS_TIMEOUT_MS: '5000',
    DATABASE_TIMEOUT_MS: '10000',
    DATABASE_URL: pgUrl ?? `sqlite:${sqliteFile}`,
    ...(pgUrl ? { DATABASE_SCHEMA: `gh_${tag}` } : {}),
    ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `gh:${tag}:` } : {}),
  };
  return {
    env,
    config: (extra = {}) => loadConfig({ ...env, ...extra }),
    async cleanup() {
      if (pgUrl) {
        const db = knexFactory({ client: 'pg', connection: pgUrl });
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [env.DATABASE_SCHEMA!]);
        await db.destroy();
      } else {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqliteFile}${suffix}`, { force: true });
      }
      if (redisUrl) await dropRedisPrefix(redisUrl, env.REDIS_KEY_PREFIX!);
    },
  };
}

/** The SQL databases a store test runs on, by name: SQLite always, PostgreSQL when DATABASE_URL names it. */
export function sqlBackends(): Array<[string, () => TestBackend]> {
  const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
  if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);
  return backends;
}

/**
 * A migrated database on a fresh test backend for the tests of the enclosing file or describe block:
 * opened and migrated before them, removed after. Returns a getter (the database exists once beforeAll ran).
 */
export function migratedDb(makeBackend: () => TestBackend = () => testBackend()): () => Db {
  let backend: TestBackend | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    backend = makeBackend();
    const { database } = backend.config();
    db = openDb(database);
    await migrate(db, database);
  });
  afterAll(async () => {
    await db?.destroy();
    await backend?.cleanup();
  });
  return () => db!;
}

/**
 * A ready client for any REDIS_URL (one server, Sentinel, Cluster), built as Gatehouse builds it but
 * patient: it waits for the connection before handing it out.
 */
export async function connectRedis(url: string, timeoutMs = 5000): Promise<RedisClient> {
  const redis = createRedisClient(parseRedisUrl(url), timeoutMs);
  redis.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis at ${url} not ready within ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => (clearTimeout(timer), resolve()));
  });
  return redis;
}

/** Deletes every key under `prefix`: on each master of a Cluster, one key at a time (keys lie in different slots). */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = await connectRedis(url);
  try {
    const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
    for (const server of servers) {
      const keys = await server.keys(`${prefix}*`);
      for (const key of keys) await server.del(key);
    }
  } finally {
    await redis.quit();
  }
}
