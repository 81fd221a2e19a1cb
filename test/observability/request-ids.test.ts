import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Koa from 'koa';
import { pino } from 'pino';
import { NO_METRICS } from '../../src/observability/metrics.js';
import { observeRequests } from '../../src/observability/http.js';
import * as client from 'openid-client';
import { createLogger } from '../../src/logger.js';
import { requestScopes } from '../../src/observability/request-context.js';
import { SYSTEM } from '../../src/services/audit.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { createUser } from '../helpers/setup.js';

/**
 * Item 7 of issue 9: every request gets an id (a well-formed incoming X-Request-Id, else a new one),
 * returned in X-Request-Id, bound to the request's logger (access log) and written to every audit
 * event recorded during the request.
 */
const PASSWORD = 'Request-Id-Lamp-93';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let h: AdminHarness;
let web: TestClient;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  h = await startAdminHarness({}, { logger: createLogger('debug', sink) });
  web = await registerClient(h.app, h.running.issuer);
});
afterAll(() => h.stop());

const auditRow = (requestId: string) => h.app.services.db('audit_events').where({ request_id: requestId });

describe('X-Request-Id', () => {
  it('a well-formed incoming id is kept and returned', async () => {
    for (const id of ['abc', 'trace-0123456789.ABC_def', 'x'.repeat(64)]) {
      const res = await fetch(`${h.running.issuer}/healthz`, { headers: { 'x-request-id': id } });
      expect(res.headers.get('x-request-id')).toBe(id);
    }
  });

  it('a missing or malformed one is replaced by a new UUID, different for each request', async () => {
    const seen = new Set<string>();
    for (const bad of [undefined, '', 'x'.repeat(65), 'has space', 'semi;colon', 'a/b', '<script>', 'ünïcode'.normalize('NFC')]) {
      const headers: Record<string, string> = {};
      if (bad !== undefined) headers['x-request-id'] = Buffer.from(bad, 'utf8').toString('latin1');
      const res = await fetch(`${h.running.issuer}/.well-known/openid-configuration`, { headers });
      const id = res.headers.get('x-request-id')!;
      expect(id).toMatch(UUID);
      seen.add(id);
    }
    expect(seen.size).toBe(8);
  });

  it('is on every answer: a page, a redirect, a 404, an OAuth error, the admin API', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    expect(loginPage.headers.get('x-request-id')).toMatch(UUID);
    const redirect = await fetch(`${h.running.issuer}/auth?client_id=${web.clientId}`, { redirect: 'manual' });
    expect(redirect.headers.get('x-request-id')).toMatch(UUID);
    const missing = await fetch(`${h.running.issuer}/nothing/here`, { headers: { 'x-request-id': 'four-oh-four' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe('four-oh-four');
    const token = await fetch(`${h.running.issuer}/token`, { method: 'POST', headers: { 'x-request-id': 'token-error' } });
    expect(token.status).toBe(400);
    expect(token.headers.get('x-request-id')).toBe('token-error');
    const admin = await fetch(`${h.running.issuer}/admin/v1/users`, { headers: { 'x-request-id': 'admin-401' } });
    expect(admin.status).toBe(401);
    expect(admin.headers.get('x-request-id')).toBe('admin-401');
  });
});

describe('X-Request-Id on an error koa answers itself', () => {
  it('survives koa clearing the headers of an uncaught error (500) and of an HTTP error (403)', async () => {
    const app = new Koa();
    app.silent = true;
    app.use(observeRequests(pino({ level: 'silent' }), NO_METRICS));
    app.use((ctx) => {
      if (ctx.path === '/forbidden') ctx.throw(403, 'no');
      throw new Error('boom');
    });
    const server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const boom = await fetch(`${base}/`, { headers: { 'x-request-id': 'boom-1' } });
      expect(boom.status).toBe(500);
      expect(boom.headers.get('x-request-id')).toBe('boom-1');
      const forbidden = await fetch(`${base}/forbidden`);
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers.get('x-request-id')).toMatch(UUID);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('audit events', () => {
  it('a failed and a successful sign-in: each audit row carries the id of the request that wrote it', async () => {
    const email = 'rid-signin@example.com';
    await createUser(h, email, PASSWORD);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const failed = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: 'wrong-one' }, { 'x-request-id': 'signin-failed-1' });
    expect(failed.status).toBe(401);
    expect(failed.headers.get('x-request-id')).toBe('signin-failed-1');
    expect(await auditRow('signin-failed-1').select('type')).toEqual([{ type: 'sign_in.failed' }]);

    const ok = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: PASSWORD }, { 'x-request-id': 'signin-ok-1' });
    expect(ok.status).toBe(303);
    expect((await auditRow('signin-ok-1').select('type')).map((r) => r.type)).toContain('sign_in.succeeded');

    // The admin API shows it on each event.
    const events = await h.api('GET', '/events?type=sign_in.failed,sign_in.succeeded&limit=10');
    expect(events.status).toBe(200);
    const ids = (events.body.items as Array<{ requestId: string | null }>).map((e) => e.requestId);
    expect(ids).toEqual(expect.arrayContaining(['signin-failed-1', 'signin-ok-1']));
  });

  it('an admin action is recorded with the id of its request, a generated one when the caller sent none', async () => {
    const res = await fetch(`${h.running.issuer}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.platformToken}`, 'content-type': 'application/json', 'x-request-id': 'admin-create-1' },
      body: JSON.stringify({ email: 'rid-admin@example.com', password: PASSWORD }),
    });
    expect(res.status).toBe(201);
    expect(await auditRow('admin-create-1').select('type')).toEqual([{ type: 'user.created' }]);

    const other = await fetch(`${h.running.issuer}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.platformToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'rid-admin-2@example.com', password: PASSWORD }),
    });
    const generated = other.headers.get('x-request-id')!;
    expect(generated).toMatch(UUID);
    expect(await auditRow(generated).select('type')).toEqual([{ type: 'user.created' }]);
  });

  it('a record made during a request without the request passed along takes the id from the request scope; outside a request, none', async () => {
    await requestScopes.run({ id: 'scoped-1' }, () => h.app.services.audit.record('test.scoped', { actor: SYSTEM('test') }));
    expect(await auditRow('scoped-1').select('type')).toEqual([{ type: 'test.scoped' }]);
    await h.app.services.audit.record('test.unscoped', { actor: SYSTEM('test') });
    expect(await h.app.services.db('audit_events').where({ type: 'test.unscoped' }).select('request_id')).toEqual([{ request_id: null }]);
  });
});

describe('logs', () => {
  it('the access log line of a request carries its id once; a line logged by the app during the request carries it too', async () => {
    const email = 'rid-log@example.com';
    await createUser(h, email, PASSWORD);
    const { tokens } = await signIn(new Browser(), web, email, PASSWORD);
    lines.length = 0;
    const res = await fetch(`${h.running.issuer}/.well-known/openid-configuration`, { headers: { 'x-request-id': 'log-line-1' } });
    expect(res.status).toBe(200);
    const access = lines.filter((l) => l.includes('"log-line-1"'));
    expect(access).toHaveLength(1);
    expect(access[0]!.match(/"requestId"/g)).toHaveLength(1);
    expect(JSON.parse(access[0]!)).toMatchObject({ requestId: 'log-line-1', msg: 'request', method: 'GET', path: '/.well-known/openid-configuration', status: 200 });

    // A refresh token used twice: the second use revokes the grant, which the app logs (info) during that request.
    await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    lines.length = 0;
    const reuse = await fetch(`${h.running.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'x-request-id': 'reuse-1',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }),
    });
    expect(reuse.status).toBe(400);
    const revoked = lines.map((l) => JSON.parse(l) as { event?: string; requestId?: string; msg?: string }).filter((l) => l.event === 'grant.revoked');
    expect(revoked.length).toBeGreaterThanOrEqual(1);
    expect(revoked.every((l) => l.requestId === 'reuse-1')).toBe(true);
    for (const line of lines.filter((l) => l.includes('reuse-1'))) expect(line.match(/"requestId"/g)).toHaveLength(1);
  });
});
