import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { Browser } from '../helpers/browser.js';
import { authorizationUrl, registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { testBackend } from '../helpers/backend.js';
import { PrivateRedis } from '../helpers/private-redis.js';

/**
 * Item 14 of issue 7: with Redis down Gatehouse fails closed, fast, with 503 and Retry-After, on
 * oidc-provider's routes as on its own; logs the outage once; and recovers without a restart. Runs
 * against a private redis-server this test starts, stops and restarts on a free port (never the shared
 * one), over the SQL backend the environment names.
 */
const EMAIL = 'outage@example.com';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const PASSWORD = 'Steady-Lamp-8271';

let redis: PrivateRedis;
let app: App;
let server: Server;
let issuer: string;
let web: TestClient;
const backend = testBackend();
const logs: Array<{ level: number; msg: string; event?: string; dependency?: string }> = [];

beforeAll(async () => {
  redis = await PrivateRedis.onFreePort();
  await redis.start();
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  app = await createApp(
    backend.config({
      ISSUER: issuer,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      REDIS_KEY_PREFIX: 'outage-test:',
      REDIS_TIMEOUT_MS: '500',
    }),
    { logger },
  );
  server.on('request', app.provider.callback());
  await app.services.accounts.create({ email: EMAIL, password: PASSWORD });
  web = await registerClient(app, issuer);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await app.close();
  await redis.stop();
  await backend.cleanup();
});

const outageLogs = (event: string) => logs.filter((l) => l.event === event && l.dependency === 'redis');

function expectUnavailable(res: Response) {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

it('fails closed with 503 and Retry-After while Redis is down, logs the outage once, and recovers without a restart', async () => {
  // Before: an ordinary sign-in works, and a second one is left half-way, on its password page.
  await signIn(new Browser(), web, EMAIL, PASSWORD);
  const halfway = new Browser();
  const { loginPage } = await startSignIn(halfway, web);
  expect(loginPage.status).toBe(200);
  expect(outageLogs('dependency.down')).toHaveLength(0);

  await redis.stop();

  // oidc-provider's authorization endpoint, in a browser: a page, not a 500 and not a hang.
  for (let i = 0; i < 3; i++) {
    const started = await new Browser().request(await authorizationUrl(web), { headers: { accept: BROWSER_ACCEPT } });
    expectUnavailable(started);
    expect(started.headers.get('content-type')).toMatch(/text\/html/);
    expect(await started.text()).toMatch(/temporarily unavailable/);
  }
  // Gatehouse's own sign-in step: the half-way sign-in submits its password.
  const submitted = await halfway.submit(loginPage, 'form[action$="/password"]', { email: EMAIL, password: PASSWORD }, { accept: BROWSER_ACCEPT });
  expectUnavailable(submitted);
  expect(submitted.headers.get('content-type')).toMatch(/text\/html/);
  // oidc-provider's JSON endpoints: token and userinfo.
  const token = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }),
  });
  expectUnavailable(token);
  expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable' });
  const userinfo = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${'y'.repeat(43)}` } });
  expectUnavailable(userinfo);
  // The admin API (its bearer token lives in Redis): problem+json.
  const admin = await fetch(`${issuer}/admin/v1/users`, { headers: { authorization: `Bearer ${'z'.repeat(43)}` } });
  expectUnavailable(admin);
  expect(admin.headers.get('content-type')).toMatch(/application\/problem\+json/);
  expect(await admin.json()).toMatchObject({ status: 503 });
  // Readiness says so, naming Redis; liveness does not (the process answers, and recovers on its own).
  const ready = await fetch(`${issuer}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ status: 'unavailable', failing: ['redis'], checks: { database: 'ok', redis: 'unreachable', migrations: 'ok' } });
  expect((await fetch(`${issuer}/healthz`)).status).toBe(200);

  // Many failed requests, one outage, logged once; nothing logged as a server error.
  expect(outageLogs('dependency.down')).toHaveLength(1);
  expect(logs.filter((l) => l.level >= 50 && l.event !== 'dependency.down')).toEqual([]);

  await redis.start();

  // Back without a restart: wait until readiness passes, then a complete sign-in.
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${issuer}/readyz`)).status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await fetch(`${issuer}/readyz`)).status).toBe(200);
  const { tokens } = await signIn(new Browser(), web, EMAIL, PASSWORD);
  expect(tokens.access_token).toBeTruthy();
  expect(outageLogs('dependency.down')).toHaveLength(1);
  expect(outageLogs('dependency.up')).toHaveLength(1);
}, 60000);
