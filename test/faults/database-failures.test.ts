import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { dependencyOf } from '../../src/services/dependencies.js';
import { openDb, type Db } from '../../src/stores/db.js';
import { PrivatePostgres } from '../helpers/private-postgres.js';

/**
 * What Gatehouse's knex pool (src/stores/db.ts, as configured from DATABASE_URL and DATABASE_TIMEOUT_MS)
 * does when a real PostgreSQL goes away, and that each failure is one dependencyOf recognises (so it is
 * answered 503, never 500): a statement running when the server crashes, a server that refuses
 * connections, and a server that hangs (stopped with SIGSTOP), which must not hold a request longer
 * than the timeout. Uses a private cluster; never the shared one.
 */
jest.setTimeout(60_000);

const created = await PrivatePostgres.create();
const skip = 'skip' in created ? created.skip : undefined;
const cluster = 'skip' in created ? undefined : created;
const test = skip ? it.skip : it;
if (skip) it.skip(`skipped: cannot start a private PostgreSQL here: ${skip}`, () => undefined);

const TIMEOUT_MS = 700;
let db: Db;

beforeAll(async () => {
  if (!cluster) return;
  await cluster.start();
  const config = loadConfig({ DATABASE_URL: cluster.url, DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) });
  db = openDb(config.database);
});

afterAll(async () => {
  await db?.destroy();
  await cluster?.destroy();
});

/** How a query ends: its error (or undefined) and how long it took. */
async function outcome(work: () => Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now();
  try {
    await work();
    return { err: undefined, ms: Date.now() - started };
  } catch (err) {
    return { err, ms: Date.now() - started };
  }
}

test('a statement under way when the server crashes fails as a database outage', async () => {
  const running = outcome(() => db.raw('select pg_sleep(10)'));
  // Wait until the statement is really running on the server.
  for (let i = 0; i < 100; i++) {
    const { rows } = await db.raw("select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(10)%' and state = 'active'");
    if (rows[0].n > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await cluster!.stop('immediate');
  const { err } = await running;
  expect(err).toBeInstanceOf(Error);
  expect(dependencyOf(err)).toBe('database');
  await cluster!.start();
  // And the pool recovers by itself.
  expect((await db.raw('select 1 as one')).rows[0].one).toBe(1);
});

test('a server that is down refuses at once, as a database outage', async () => {
  await cluster!.stop('fast');
  const { err, ms } = await outcome(() => db.raw('select 1'));
  expect(dependencyOf(err)).toBe('database');
  expect(ms).toBeLessThan(TIMEOUT_MS + 1000);
  await cluster!.start();
  expect((await db.raw('select 1 as one')).rows[0].one).toBe(1);
});

test('a server that hangs holds a request no longer than DATABASE_TIMEOUT_MS for a connection, as a database outage', async () => {
  // Idle pooled connections would still answer through their own backends: start from an empty pool.
  await db.destroy();
  db = openDb(loadConfig({ DATABASE_URL: cluster!.url, DATABASE_TIMEOUT_MS: String(TIMEOUT_MS) }).database);
  const pid = Number(readFileSync(`${cluster!.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  execFileSync('kill', ['-STOP', String(pid)]);
  try {
    const { err, ms } = await outcome(() => db.raw('select 1'));
    expect(dependencyOf(err)).toBe('database');
    // Bounded by the timeout (plus scheduling slack on a busy machine), not knex's default minute.
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + 3000);
  } finally {
    execFileSync('kill', ['-CONT', String(pid)]);
  }
  // Once the server runs again, the pool gets connections again by itself (the first tries may still
  // meet the backlog of connection attempts the stopped server left).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { err } = await outcome(() => db.raw('select 1'));
    if (!err) break;
    if (Date.now() > deadline) throw err;
    await new Promise((r) => setTimeout(r, 100));
  }
});
