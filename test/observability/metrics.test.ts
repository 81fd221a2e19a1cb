import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { Browser, type Page } from '../helpers/browser.js';
import { pageOf } from '../helpers/password-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { Scrape } from '../helpers/metrics.js';
import { registerClient, RP_LOGGED_OUT, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { startApp } from '../helpers/server.js';
import { createUser, organizationWithDomain, putPolicy, verifyDomain, createOrganization } from '../helpers/setup.js';
import { afterPassword, enrollThroughPages, land, nextStepCode, stepOf, submitCode, wrongCode } from '../helpers/two-factor.js';

/**
 * Item 7 of issue 9: GET /metrics (Prometheus text format) on a listener of its own, off unless
 * METRICS_PORT is set; the counters move with the right labels after real sign-ins, token requests,
 * second-factor checks, back-channel logouts and domain re-verifications over HTTP; route labels are
 * patterns, never paths with ids in them.
 */
const PASSWORD = 'Metric-Lamp-4821';
let h: AdminHarness;
let web: TestClient;
let metricsUrl: string;
let n = 0;
const scrape = () => Scrape.of(metricsUrl);
const SIGN_INS = 'gatehouse_sign_ins_total';
const HTTP = 'gatehouse_http_request_duration_seconds_count';

let receiver: Server;
const delivered: string[] = [];
let receiverPort: number;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      delivered.push(req.url ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverPort = (receiver.address() as AddressInfo).port;
  h = await startAdminHarness({ METRICS_PORT: '0', BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '127.0.0.1', DOMAIN_REVERIFY_MAX_FAILURES: '2' });
  metricsUrl = h.app.metrics!.url;
  web = await registerClient(h.app, h.running.issuer);
});
afterAll(async () => {
  await h.stop();
  await new Promise((r) => receiver.close(r));
});

const ids = new Map<string, string>();
const idOf = async (email: string) => ids.get(email)!;

async function user(domain = 'example.com') {
  const email = `m${++n}@${domain}`;
  ids.set(email, await createUser(h, email, PASSWORD));
  return email;
}

/** One password submission on a fresh sign-in page; returns the status of the answer. */
async function tryPassword(email: string, password: string): Promise<number> {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
  return res.status;
}

describe('settings', () => {
  const base = { NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.join('\n');
      throw err;
    }
    return '';
  };

  it('METRICS_PORT unset: no metrics listener; set: a port and a loopback interface unless METRICS_HOST says otherwise', () => {
    expect(loadConfig(base).metrics).toBeUndefined();
    expect(loadConfig({ ...base, METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ ...base, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    expect(loadConfig({ ...base, METRICS_PORT: '9464', METRICS_HOST: '::1' }).metrics).toEqual({ port: 9464, host: '::1' });
  });

  it('refuses a bad port, a bad interface, and the public port', () => {
    expect(problems({ METRICS_PORT: 'ninety' })).toMatch(/^METRICS_PORT:/);
    expect(problems({ METRICS_PORT: '70000' })).toMatch(/^METRICS_PORT:/);
    expect(problems({ METRICS_PORT: '9464', METRICS_HOST: 'metrics.example.com' })).toMatch(/^METRICS_HOST:/);
    expect(problems({ METRICS_PORT: '9464', METRICS_HOST: '10.0.0.1:9464' })).toMatch(/^METRICS_HOST:/);
    expect(problems({ PORT: '8080', METRICS_PORT: '8080' })).toMatch(/^METRICS_PORT: must differ from PORT/);
  });
});

describe('the metrics listener', () => {
  it('is off by default: no listener, nothing collected, and /metrics is not served on the public port', async () => {
    const plain = await startApp();
    try {
      expect(plain.app.metrics).toBeUndefined();
      expect(plain.app.services.metrics.enabled).toBe(false);
      expect((await fetch(`${plain.issuer}/metrics`)).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });

  it('when configured, serves GET /metrics in Prometheus text format on its own loopback port, and nothing else', async () => {
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(h.running.issuer).port);
    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    // Default process metrics and Gatehouse's own.
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'gatehouse_sign_ins_total', 'gatehouse_lockouts_total', 'gatehouse_http_request_duration_seconds_bucket', 'gatehouse_db_query_duration_seconds_bucket', 'gatehouse_dependency_up']) {
      expect(text).toContain(`\n${name}`);
    }
    expect((await fetch(`${metricsUrl}/`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/metrics`, { method: 'POST' })).status).toBe(405);
    // The public listener does not serve them.
    expect((await fetch(`${h.running.issuer}/metrics`)).status).toBe(404);
  });
});

describe('sign-ins and tokens', () => {
  it('a failed and a successful sign-in move the sign-in counter by outcome and reason; the code exchange moves the grant-type counter', async () => {
    const email = await user();
    const before = await scrape();
    expect(await tryPassword(email, 'not-the-password')).toBe(401);
    const { tokens } = await signIn(new Browser(), web, email, PASSWORD);
    const after = await scrape();
    expect(after.value(SIGN_INS, { outcome: 'failed', reason: 'invalid' }) - before.value(SIGN_INS, { outcome: 'failed', reason: 'invalid' })).toBe(1);
    expect(after.value(SIGN_INS, { outcome: 'succeeded', reason: 'none' }) - before.value(SIGN_INS, { outcome: 'succeeded', reason: 'none' })).toBe(1);
    const issued = (s: Scrape, grant_type: string) => s.value('gatehouse_tokens_issued_total', { grant_type });
    expect(issued(after, 'authorization_code') - issued(before, 'authorization_code')).toBe(1);

    // Refresh: one more, by its own grant type; a refused refresh is an error by grant type and OAuth code.
    await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(web.config, 'x'.repeat(43))).rejects.toMatchObject({ error: 'invalid_grant' });
    // A grant type made up by the caller does not become a label.
    const made = await fetch(`${h.running.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: `urn:made-up:${randomUUID()}` }),
    });
    expect(made.status).toBe(400);
    const later = await scrape();
    expect(issued(later, 'refresh_token') - issued(after, 'refresh_token')).toBe(1);
    const errors = (s: Scrape, labels: Record<string, string>) => s.value('gatehouse_token_errors_total', labels);
    expect(errors(later, { grant_type: 'refresh_token', error: 'invalid_grant' }) - errors(after, { grant_type: 'refresh_token', error: 'invalid_grant' })).toBe(1);
    expect(later.labelValues('gatehouse_token_errors_total', 'grant_type').every((g) => ['authorization_code', 'refresh_token', 'client_credentials', 'other'].includes(g))).toBe(true);
    // The harness's platform token came from client credentials.
    expect(issued(later, 'client_credentials')).toBeGreaterThanOrEqual(1);

    // argon2: verifications were timed, none is in flight now; SQL statements were timed.
    expect(later.value('gatehouse_argon2_duration_seconds_count', { operation: 'verify' }) - before.value('gatehouse_argon2_duration_seconds_count', { operation: 'verify' })).toBeGreaterThanOrEqual(2);
    expect(later.value('gatehouse_argon2_in_flight')).toBe(0);
    expect(later.value('gatehouse_db_query_duration_seconds_count', { operation: 'select' })).toBeGreaterThan(before.value('gatehouse_db_query_duration_seconds_count', { operation: 'select' }));
    expect(later.value('gatehouse_dependency_up', { dependency: 'database' })).toBe(1);
  });

  it('the fifth failure in a row is one lockout; refusals while locked are sign-ins failed as "locked", not more lockouts', async () => {
    const email = await user();
    const before = await scrape();
    for (let i = 0; i < 5; i++) expect(await tryPassword(email, `wrong-${i}`)).toBe(401);
    const locked = await scrape();
    expect(locked.value('gatehouse_lockouts_total') - before.value('gatehouse_lockouts_total')).toBe(1);
    expect(await tryPassword(email, PASSWORD)).toBe(429);
    const after = await scrape();
    expect(after.value('gatehouse_lockouts_total')).toBe(locked.value('gatehouse_lockouts_total'));
    expect(after.value(SIGN_INS, { outcome: 'failed', reason: 'locked' }) - locked.value(SIGN_INS, { outcome: 'failed', reason: 'locked' })).toBe(1);
  });

  it('four failures and then the right password on the fifth attempt is no lockout', async () => {
    const email = await user();
    const before = await scrape();
    for (let i = 0; i < 4; i++) expect(await tryPassword(email, `wrong-${i}`)).toBe(401);
    expect(await tryPassword(email, PASSWORD)).toBe(303);
    const after = await scrape();
    expect(after.value('gatehouse_lockouts_total')).toBe(before.value('gatehouse_lockouts_total'));
    expect(after.value(SIGN_INS, { outcome: 'failed', reason: 'invalid' }) - before.value(SIGN_INS, { outcome: 'failed', reason: 'invalid' })).toBe(4);
  });

  it('an address without an account locks like an account, and counts as a lockout the same way', async () => {
    const before = await scrape();
    const email = `nobody-${randomUUID()}@example.com`;
    for (let i = 0; i < 5; i++) expect(await tryPassword(email, `wrong-${i}`)).toBe(401);
    expect((await scrape()).value('gatehouse_lockouts_total') - before.value('gatehouse_lockouts_total')).toBe(1);
  });
});

describe('second factors', () => {
  it('TOTP checks count by method and outcome', async () => {
    const orgId = await organizationWithDomain(h, 'Metrics 2FA', 'twofactor.example');
    await putPolicy(h, orgId, { authentication: { enforce2fa: true } });
    const email = await user('twofactor.example');
    const { secret } = await enrollThroughPages(web, email, PASSWORD);
    const before = await scrape();
    const browser = new Browser();
    const landing = await afterPassword(browser, web, email, PASSWORD);
    expect(stepOf(landing)).toBe('totp');
    const wrong = await submitCode(browser, landing.page!, 'totp', await wrongCode(secret));
    expect(wrong.status).toBe(401);
    const right = await submitCode(browser, wrong.page!, 'totp', await nextStepCode(secret));
    expect(right.status).toBe(303);
    const after = await scrape();
    const checks = (s: Scrape, outcome: string) => s.value('gatehouse_second_factor_checks_total', { method: 'totp', outcome });
    expect(checks(after, 'invalid') - checks(before, 'invalid')).toBe(1);
    expect(checks(after, 'ok') - checks(before, 'ok')).toBe(1);
    expect(after.value(SIGN_INS, { outcome: 'failed', reason: 'invalid-second-factor' }) - before.value(SIGN_INS, { outcome: 'failed', reason: 'invalid-second-factor' })).toBe(1);
  });
});

describe('passkeys as second factor', () => {
  it('checks count as method "passkey": a refused assertion, then a good one', async () => {
    const email = await user();
    const services = h.app.services;
    const account = (await services.accounts.findById(await idOf(email)))!;
    const soft = new SoftAuthenticator({ origin: h.running.issuer });
    const binding = `test:${randomUUID()}`;
    const registered = await services.passkeys.verifyRegistration(account, binding, soft.register(await services.passkeys.registrationOptions(account, binding, [])));
    if (!registered.ok) throw new Error(`set-up failed: ${registered.reason}`);
    expect(await services.passkeys.addPasskey(account, registered.factor, {}, { type: 'user', id: account.id }, { ip: null, userAgent: null })).toBe(true);

    const before = await scrape();
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]:not([data-passkey])', { email, password: PASSWORD });
    const second = await land(browser, res, started.loginPage.url);
    expect(stepOf(second)).toBe('passkey');
    const form = 'form[action$="/passkey"][data-passkey]';
    const answer = async (page: Page, lie?: { origin: string }) => {
      const el = page.doc.querySelector(form)!;
      const options = await browser.request(new URL(el.getAttribute('data-options')!, page.url).href, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: el.querySelector('input[name=csrf]')!.getAttribute('value')! }).toString(),
      });
      expect(options.status).toBe(200);
      const credential = JSON.stringify(soft.authenticate((await options.json()) as PublicKeyCredentialRequestOptionsJSON, lie));
      return browser.submit(page, form, { credential });
    };
    const refused = await answer(second.page!, { origin: 'https://elsewhere.example' });
    expect(refused.status).toBe(401);
    const good = await answer(await pageOf(refused, second.page!.url));
    expect(good.status).toBe(303);
    const after = await scrape();
    const checks = (s: Scrape, outcome: string) => s.value('gatehouse_second_factor_checks_total', { method: 'passkey', outcome });
    expect(checks(after, 'invalid') - checks(before, 'invalid')).toBe(1);
    expect(checks(after, 'ok') - checks(before, 'ok')).toBe(1);
  });
});

describe('route labels', () => {
  it('are route patterns: no interaction uid, user id or made-up path becomes a label', async () => {
    const email = `m${++n}@example.com`;
    const userId = await createUser(h, email, PASSWORD);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const uid = new URL(loginPage.url).pathname.split('/').pop()!;
    expect(uid.length).toBeGreaterThan(10);
    await browser.submit(loginPage, 'form[action$="/password"]', { email, password: 'wrong' });
    expect((await h.api('GET', `/users/${userId}`)).status).toBe(200);
    const junk = randomUUID();
    expect((await fetch(`${h.running.issuer}/no/such/${junk}`)).status).toBe(404);

    const s = await scrape();
    const routes = s.labelValues(HTTP, 'route');
    expect(routes).toEqual(expect.arrayContaining(['/auth', '/interaction/:uid', '/interaction/:uid/:step', '/token', '/.well-known/openid-configuration', 'unmatched']));
    expect(routes.some((r) => r.startsWith('/admin/v1/users/'))).toBe(true);
    for (const route of routes) {
      expect(route).toMatch(/^(unmatched|(\/[A-Za-z0-9._~:{}-]*)+)$/);
      for (const id of [uid, junk, userId]) expect(route).not.toContain(id);
      // Every dynamic segment is a :parameter, never a value.
      for (const segment of route.split('/')) expect(segment).not.toMatch(/^[0-9a-f]{8}-|^(?=.*[0-9])[A-Za-z0-9_-]{16,}$/);
    }
    expect(s.labelValues(HTTP, 'status_class').every((c) => /^[1-5]xx$/.test(c))).toBe(true);
    expect(s.labelValues(HTTP, 'method').every((m) => ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'].includes(m))).toBe(true);
    expect(s.value(HTTP, { route: '/interaction/:uid', method: 'GET', status_class: '2xx' })).toBeGreaterThan(0);
    expect(s.value(HTTP, { route: 'unmatched', method: 'GET', status_class: '4xx' })).toBeGreaterThan(0);
  });
});

describe('back-channel logout', () => {
  it('deliveries and failures are counted', async () => {
    const reachable = await registerClient(h.app, h.running.issuer, { backchannelLogoutUri: `http://127.0.0.1:${receiverPort}/backchannel` });
    // Nothing listens there: the delivery fails.
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const unreachable = await registerClient(h.app, h.running.issuer, { backchannelLogoutUri: `http://127.0.0.1:${closed}/backchannel` });
    const email = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, reachable, email, PASSWORD);
    await signIn(browser, unreachable, email, PASSWORD, { prompt: 'login' });
    const before = await scrape();
    const logoutUrl = client.buildEndSessionUrl(reachable.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT });
    const confirm = await browser.page(logoutUrl.href);
    expect((await browser.submit(confirm, 'form#op\\.logoutForm', { logout: 'yes' })).status).toBe(303);
    const outcome = (s: Scrape, o: string) => s.value('gatehouse_backchannel_logouts_total', { outcome: o }) - before.value('gatehouse_backchannel_logouts_total', { outcome: o });
    let after = await scrape();
    for (let i = 0; i < 50 && outcome(after, 'delivered') + outcome(after, 'failed') < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await scrape();
    }
    expect(outcome(after, 'delivered')).toBe(1);
    expect(outcome(after, 'failed')).toBe(1);
    expect(delivered).toContain('/backchannel');
  });
});

describe('domain re-verification', () => {
  it('outcomes are counted: still verified, failed, revoked', async () => {
    const orgId = await createOrganization(h, 'Metrics reverify');
    await verifyDomain(h, orgId, 'reverify.example');
    const makeDue = () => h.app.services.db('domain_claims').where({ domain: 'reverify.example' }).update({ last_checked_at: 1 });
    // Other verified claims of this file are left alone: only this one is due.
    await h.app.services.db('domain_claims').whereNot({ domain: 'reverify.example' }).update({ last_checked_at: Math.floor(Date.now() / 1000) + 3600 });
    const before = await scrape();
    const count = (s: Scrape, outcome: string) => s.value('gatehouse_domain_reverifications_total', { outcome }) - before.value('gatehouse_domain_reverifications_total', { outcome });
    await makeDue();
    expect(await h.app.services.domains.reverifyDue()).toEqual({ checked: 1, revoked: [] });
    h.dns.txt.delete('_gatehouse-challenge.reverify.example');
    await makeDue();
    expect(await h.app.services.domains.reverifyDue()).toEqual({ checked: 1, revoked: [] });
    await makeDue();
    expect(await h.app.services.domains.reverifyDue()).toEqual({ checked: 1, revoked: ['reverify.example'] });
    const after = await scrape();
    expect([count(after, 'verified'), count(after, 'failed'), count(after, 'revoked')]).toEqual([1, 1, 1]);
  });
});
