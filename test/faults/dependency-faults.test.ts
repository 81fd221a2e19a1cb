import { jest } from '@jest/globals';
import { BOOTSTRAP_ID, BOOTSTRAP_SECRET } from '../helpers/admin.js';
import { FaultLoad, pause, type Answer } from '../helpers/fault-load.js';
import { RP_CALLBACK, RP_LOGGED_OUT } from '../helpers/oidc.js';
import { PrivatePostgres } from '../helpers/private-postgres.js';
import { PrivateRedis } from '../helpers/private-redis.js';
import { freePort, spawnGatehouse, type SpawnedGatehouse } from '../helpers/process.js';
import { Browser } from '../helpers/browser.js';
import { connectRedis } from '../helpers/backend.js';
import { consoleSignIn } from '../helpers/console.js';
import { SESSION_COOKIE } from '../../src/console/session.js';
import { RedisOidcStore } from '../../src/stores/redis/oidc-store.js';

/**
 * Issue 9 item 6: Gatehouse (`node dist/src/main.js`, a child process) on a PostgreSQL cluster and a
 * Redis server that this file starts itself (never the shared ones), under a light mixed load of
 * sign-ins through the real forms, refresh_token grants, userinfo and discovery. Each dependency in
 * turn is stopped and started again:
 * - from 2 s after it went down until it is started again, every answer that needs it is 503 with
 *   Retry-After, and answers come without waiting; never a 500, at any time;
 * - /readyz names the dependency that is down; the outage is logged once, and its end once;
 * - Gatehouse recovers on its own, without a restart;
 * - nothing a 2xx promised is lost: every sign-in that was accepted is in the audit trail, every token
 *   chain (rotating refresh tokens, the latest one each) still refreshes and its access token reads userinfo.
 * Redis runs with an append-only file fsynced on every write, as a production Redis holding sessions would.
 */
jest.setTimeout(90_000);

const PASSWORD = 'Fault-Line-Pass-93';
/** From the moment the dependency is stopped, how long before every answer that needs it must be 503. */
const SETTLE_MS = 2000;
/** Longest any answer may take while a dependency is down (no hanging on a dead connection). */
const ANSWER_MS = 2000;
const OUTAGE_MS = 4000;

// A machine that cannot run a throw-away cluster (no server binaries, no `postgres` user to run it as
// root) skips these tests, saying why; CI here runs them.
const created = await PrivatePostgres.create();
const skip = 'skip' in created ? created.skip : undefined;
const pgCluster = 'skip' in created ? undefined : created;
const test = skip ? it.skip : it;
if (skip) it.skip(`skipped: cannot start a private PostgreSQL here: ${skip}`, () => undefined);

let redis: PrivateRedis;
let gatehouse: SpawnedGatehouse;
let issuer: string;
let platformToken: string;
let clientId: string;
let clientSecret: string;
const users: Array<{ email: string; password: string; used?: boolean }> = [];

beforeAll(async () => {
  if (!pgCluster) return;
  await pgCluster.start();
  redis = await PrivateRedis.onFreePort({ persistent: true });
  await redis.start();
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  gatehouse = await spawnGatehouse({
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    ISSUER: issuer,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: pgCluster.url,
    DATABASE_SCHEMA: 'faults',
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: 'faults:',
    DATABASE_TIMEOUT_MS: '1000',
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_TIME_COST: '1',
    GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
  });
  platformToken = await adminToken();
  const res = await api('POST', '/clients', { client_name: 'Fault app', session_type: 'web', redirect_uris: [RP_CALLBACK], post_logout_redirect_uris: [RP_LOGGED_OUT] });
  expect(res.status).toBe(201);
  clientId = res.body.client_id;
  clientSecret = res.body.client_secret;
  // One user per completed sign-in (the default policy ends a user's other web sessions at sign-in).
  for (let batch = 0; batch < 8; batch++) {
    const emails = Array.from({ length: 8 }, (_, i) => `fault${batch * 8 + i}@faults.example`);
    const created = await Promise.all(emails.map((email) => api('POST', '/users', { email, password: PASSWORD })));
    expect(created.map((r) => r.status)).toEqual(emails.map(() => 201));
    users.push(...emails.map((email) => ({ email, password: PASSWORD })));
  }
}, 60_000);

afterAll(async () => {
  // FAULT_LOGS=<file>: keep the process's log lines and stderr for a look after a failure.
  if (process.env.FAULT_LOGS) (await import('node:fs')).writeFileSync(process.env.FAULT_LOGS, (gatehouse?.logs.map((l) => JSON.stringify(l)).join('\n') ?? '') + '\nSTDERR\n' + gatehouse?.stderr());
  if (gatehouse && gatehouse.child.exitCode === null) {
    gatehouse.child.kill('SIGTERM');
    await gatehouse.exited;
  }
  await redis?.destroy();
  await pgCluster?.destroy();
});

async function adminToken(): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${BOOTSTRAP_ID}:${BOOTSTRAP_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }),
  });
  if (res.status !== 200) throw new Error(`client_credentials answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${issuer}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${platformToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const summary = (answers: Answer[]) => {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[`${a.op} ${a.status}`] = (counts[`${a.op} ${a.status}`] ?? 0) + 1;
  return counts;
};

/**
 * Runs the load, takes the dependency down with `stop`, keeps it down OUTAGE_MS, brings it back with
 * `start`, waits until sign-ins and refreshes succeed again, and judges every answer.
 */
async function outage(dependency: 'database' | 'redis', stop: () => Promise<void>, start: () => Promise<void>) {
  const pid = gatehouse.child.pid;
  const logsBefore = gatehouse.logs.length;
  const load = new FaultLoad({ issuer, clientId, clientSecret, users });
  load.start();
  try {
    await load.until(() => load.chains.length >= 3 && load.answers.some((a) => a.op === 'refresh' && a.status === 200), 20_000, 'sign-ins and refreshes before the fault');
    const stopping = Date.now();
    await stop();
    const down = Date.now();
    await pause(SETTLE_MS);
    const ready = await fetch(`${issuer}/readyz`);
    const readyBody = await ready.json();
    await pause(OUTAGE_MS - SETTLE_MS);
    const restarting = Date.now();
    await start();
    const up = Date.now();
    // Recovery on its own: a new sign-in and a refresh both succeed after the dependency is back.
    const signedBefore = load.chains.length;
    await load.until(
      () => load.chains.length > signedBefore && load.between(up).some((a) => a.op === 'refresh' && a.status === 200),
      20_000,
      `recovery after ${dependency} came back`,
    );
    const recovered = Date.now();
    await load.stop();

    const during = load.between(stopping + SETTLE_MS, restarting);
    process.stdout.write(
      `${dependency} outage: stop took ${down - stopping} ms, restart ${up - restarting} ms, recovered ${recovered - up} ms after; ` +
        `${load.answers.length} answers (${load.completed.size ? [...load.completed.values()].reduce((a, b) => a + b) : 0} sign-ins); ` +
        `settled outage: ${JSON.stringify(summary(during))}; slowest answer then ${Math.max(0, ...during.map((a) => a.ended - a.started))} ms\n`,
    );

    // Never a server error other than 503, and every 503 says when to come back.
    expect(load.answers.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    expect(load.answers.filter((a) => a.status === 503 && !(Number(a.retryAfter) > 0))).toEqual([]);
    expect(load.oddities).toEqual([]);
    // While it is down (past the first SETTLE_MS): every answer that needs it is 503, and comes at once.
    expect(during.length).toBeGreaterThan(10);
    expect(during.filter((a) => a.op !== 'discovery' && a.status !== 503)).toEqual([]);
    expect(during.filter((a) => a.ended - a.started > ANSWER_MS)).toEqual([]);
    // Readiness names it.
    expect(ready.status).toBe(503);
    expect(readyBody).toMatchObject({ status: 'unavailable', failing: [dependency] });
    // The same process throughout, which logged the outage once and its end once, and no server error.
    expect(gatehouse.child.pid).toBe(pid);
    expect(gatehouse.child.exitCode).toBeNull();
    // (The end of the outage is noticed by a probe, at most about a second after the dependency is back.)
    await load.until(() => gatehouse.logs.slice(logsBefore).some((l) => l.event === 'dependency.up'), 10_000, 'the end of the outage in the log');
    const logs = gatehouse.logs.slice(logsBefore);
    expect(logs.filter((l) => l.event === 'dependency.down').map((l) => l.dependency)).toEqual([dependency]);
    expect(logs.filter((l) => l.event === 'dependency.up').map((l) => l.dependency)).toEqual([dependency]);
    expect(logs.filter((l) => (l.level as number) >= 50 && l.event !== 'dependency.down')).toEqual([]);
    expect((await fetch(`${issuer}/readyz`)).status).toBe(200);

    // Nothing a 2xx promised is lost. Every accepted password is an audited sign-in...
    const events = (await api('GET', '/events?type=sign_in.succeeded&limit=200')).body.items as Array<{ data: { email: string } }>;
    for (const [email, accepted] of load.acceptedPasswords) {
      expect({ email, audited: events.filter((e) => e.data.email === email).length >= accepted }).toEqual({ email, audited: true });
    }
    // ...and every token chain, at the tokens last handed out (before, during or after the fault), still works.
    for (const chain of load.chains) {
      const refreshed = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chain.refreshToken }),
      });
      const at = (t: number) => t - stopping;
      const history = {
        email: chain.email,
        issuedAt: at(chain.issuedAt),
        outage: `stopping 0, down ${at(down)}, restarting ${at(restarting)}, up ${at(up)} (ms)`,
        refreshes: chain.refreshes.map((r) => `${at(r.started)}..${at(r.ended)} ${r.status} ${r.error ?? ''}`).join('; '),
      };
      if (refreshed.status !== 200) process.stdout.write(`final refresh: ${await refreshed.clone().text()}; revocations: ${JSON.stringify(gatehouse.logs.filter((l) => l.event === 'grant.revoked'))}\n`);
      expect({ ...history, refresh: refreshed.status }).toEqual({ ...history, refresh: 200 });
      const { access_token } = (await refreshed.json()) as { access_token: string };
      const me = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${access_token}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { email: string }).email).toBe(chain.email);
    }
  } finally {
    await load.stop();
  }
}

test('PostgreSQL stopped and started under load: 503 with Retry-After while it is down, recovery on its own, nothing committed lost', async () => {
  await outage(
    'database',
    () => pgCluster!.stop('fast'),
    () => pgCluster!.start(),
  );
});

test('PostgreSQL crashed (immediate stop) and started under load: the same', async () => {
  await outage(
    'database',
    () => pgCluster!.stop('immediate'),
    () => pgCluster!.start(),
  );
});

test('Redis killed and started under load: 503 with Retry-After while it is down, recovery on its own, nothing committed lost', async () => {
  await outage(
    'redis',
    () => redis.stop(),
    () => redis.start(),
  );
});

test('a console session whose access token runs out while PostgreSQL is down: 503 with Retry-After, and the same session goes on once it is back', async () => {
  const org = await api('POST', '/organizations', { name: 'Fault corp' });
  const owner = await api('POST', '/users', { email: 'owner@fault-console.example', password: PASSWORD });
  expect((await api('POST', `/organizations/${org.body.id}/members`, { userId: owner.body.id, role: 'owner' })).status).toBe(200);
  const path = `/console/orgs/${org.body.id}/users`;
  const { browser, page } = await consoleSignIn(issuer, 'owner@fault-console.example', PASSWORD, new Browser(), path);
  expect(page.status).toBe(200);
  // The session lives in Redis, which stays up; its access token is made out of date, as 15 minutes on.
  const id = (await browser.jar.getCookies(`${issuer}${path}`)).find((c) => c.key === SESSION_COOKIE)!.value;
  const client = await connectRedis(redis.url);
  const store = new RedisOidcStore(client, 'faults:');
  try {
    await store.upsert('ConsoleSession', id, { ...(await store.find('ConsoleSession', id))!, expiresAt: 0 }, 3600);
    await pgCluster!.stop('fast');
    try {
      await pause(SETTLE_MS);
      // The refresh cannot be made (the token endpoint answers 503): no refusal, so no sign-out.
      const down = await browser.request(`${issuer}${path}`);
      expect([down.status, down.headers.get('retry-after')]).toEqual([503, '5']);
      expect(await store.find('ConsoleSession', id)).toMatchObject({ expiresAt: 0 });
      expect((await store.find('ConsoleSession', id))!.consumed).toBeUndefined();
    } finally {
      await pgCluster!.start();
    }
    let back = 0;
    for (let tries = 0; tries < 50 && back !== 200; tries++) {
      await pause(200);
      back = (await browser.request(`${issuer}${path}`)).status;
    }
    expect(back).toBe(200);
    expect((await store.find('ConsoleSession', id))!.expiresAt).toBeGreaterThan(Date.now() / 1000);
  } finally {
    client.disconnect();
  }
});
