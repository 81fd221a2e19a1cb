/**
 * Item 11: hostile text thrown at every form field, every oidc-provider query parameter we use and every
 * admin route (path parameters, query, JSON body), taken from the route registry so new routes are covered.
 * Properties: never a 5xx; text the edge must refuse (control characters, lone surrogates, bad
 * percent-encoding, bad bytes, overlong) is answered 4xx and leaves every table as it was.
 */
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { generate } from 'otplib';
import { z } from 'zod';
import { pathParams, type AdminRoute } from '../../src/admin/route.js';
import { adminRoutes } from '../../src/admin/routes/index.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { registerClient, startSignIn, submitPassword, type TestClient } from '../helpers/oidc.js';
import { chooseAuthenticatorApp, land } from '../helpers/two-factor.js';
import { adminResetLink } from '../helpers/password-flows.js';

jest.setTimeout(120_000);

const PASSWORD = 'Hostile-Input-1';
const RUNS = 8;
const TABLES = [
  'accounts',
  'organizations',
  'domain_claims',
  'security_policies',
  'audit_events',
  'clients',
  'password_history',
  'password_reset_tokens',
  'recovery_codes',
  'mail_outbox',
];

let h: AdminHarness;
let web: TestClient;
let thirdParty: TestClient;
let orgId: string;
let victimId: string;
let clientId: string;

// ---------------------------------------------------------------------------------------------------
// Generators: what a hostile client sends.

const CONTROLS = [...Array.from({ length: 0x20 }, (_, i) => i), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)].map((c) => String.fromCharCode(c));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const hostileChar = fc.oneof(fc.constantFrom(...CONTROLS), loneSurrogate);
const withHostileChar = fc
  .tuple(fc.string({ unit: 'binary', maxLength: 12 }), hostileChar, fc.string({ unit: 'binary', maxLength: 12 }))
  .map(([a, c, b]) => a + c + b);
const HAND_PICKED = [
  '\u0000',
  'a\u0000b@example.com',
  'ceo\u0000@orgb.test',
  '\ud800',
  'x\udc00y',
  '\udc00\ud800',
  '\u0085',
  '\u009b[2J',
  '\u001b[2J',
  'line\nbreak',
  'tab\there',
  'x'.repeat(100_000),
  '\ufffd',
  'ok@example.com',
];
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), withHostileChar, fc.constantFrom(...HAND_PICKED));
/** Percent-encoding that is not valid UTF-8, sent as is. */
const BAD_ESCAPES = ['%ZZ', '%', '%4', '%C3', '%C3%28', '%C0%80', '%ED%A0%80', '%FF', 'a%E2%82', '%00'];

// Our own oracle, independent of the code under test.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const isPassword = (field: string) => /password/i.test(field);
const mustRefuse = (field: string, v: string) => LONE.test(v) || v.length > 16384 || (isPassword(field) ? v.includes('\u0000') : CONTROL.test(v));

/** A value as sent in a URL or form: percent-encoded (lone surrogates as their WTF-8 bytes, which are not UTF-8), or a bad escape. */
interface Sent {
  encoded: string;
  value?: string;
}
const pct = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
function encode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s[i]! + s[i + 1]!);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += pct(0xe0 | (c >> 12)) + pct(0x80 | ((c >> 6) & 0x3f)) + pct(0x80 | (c & 0x3f));
    } else {
      out += encodeURIComponent(s[i]!);
    }
  }
  return out;
}
const sent: fc.Arbitrary<Sent> = fc.oneof(
  { weight: 4, arbitrary: text.map((value) => ({ encoded: encode(value), value })) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_ESCAPES).map((encoded) => ({ encoded })) },
);
const refused = (field: string, s: Sent) => s.value === undefined || mustRefuse(field, s.value);
/** Always tried, besides the random runs (which draw from HAND_PICKED and BAD_ESCAPES too). */
const sentExamples: Array<[Sent]> = [
  ...['a\u0000b@example.com', '\ud800', '\u009b[2J', 'x'.repeat(100_000)].map((value) => [{ encoded: encode(value), value }] as [Sent]),
  ...['%ZZ', '%C3%28'].map((encoded) => [{ encoded }] as [Sent]),
];

// ---------------------------------------------------------------------------------------------------
// Checks.

async function counts(): Promise<Record<string, number>> {
  const db = h.app.services.db;
  // One round trip: select (select count(*) from accounts) as accounts, …
  const row = (await db.select(Object.fromEntries(TABLES.map((t) => [t, db(t).count('*')]))).first()) as Record<string, unknown>;
  return Object.fromEntries(TABLES.map((t) => [t, Number(row[t])]));
}

/** Runs `send` for each generated value: never a 5xx; a value that must be refused gets a 4xx and stores nothing. */
async function property(field: string, send: (s: Sent) => Promise<number>) {
  await fc.assert(
    fc.asyncProperty(sent, async (s) => {
      const mustBeRefused = refused(field, s);
      const before = mustBeRefused ? await counts() : undefined;
      const status = await send(s);
      if (status >= 500) throw new Error(`${field}: ${status} for ${JSON.stringify(s.value ?? s.encoded).slice(0, 80)}`);
      if (mustBeRefused) {
        expect([400, 413, 414, 431]).toContain(status);
        expect(await counts()).toEqual(before);
      }
    }),
    { numRuns: RUNS, examples: sentExamples },
  );
}

/** The hidden fields of a form with one field replaced by raw (already encoded) text. */
function formBody(page: Page, selector: string, fields: Record<string, string>, attacked: string, s: Sent): string {
  const form = page.doc.querySelector(selector);
  if (!form) throw new Error(`no form ${selector} on ${page.url}: ${page.html.slice(0, 300)}`);
  const values: Record<string, string> = {};
  for (const input of form.querySelectorAll('input')) {
    const name = input.getAttribute('name');
    if (name && input.getAttribute('type') === 'hidden') values[name] = encodeURIComponent(input.getAttribute('value') ?? '');
  }
  for (const [k, v] of Object.entries(fields)) values[k] = encodeURIComponent(v);
  values[attacked] = s.encoded;
  return Object.entries(values)
    .map(([k, v]) => `${encodeURIComponent(k)}=${v}`)
    .join('&');
}

async function postForm(browser: Browser, page: Page, selector: string, fields: Record<string, string>, attacked: string, s: Sent) {
  const action = new URL(page.doc.querySelector(selector)!.getAttribute('action') ?? page.url, page.url).href;
  const res = await browser.request(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: formBody(page, selector, fields, attacked, s),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Throws the generator at each field of a form. */
async function everyField(page: Page, browser: Browser, selector: string, fields: Record<string, string>) {
  const form = page.doc.querySelector(selector);
  expect(form).toBeTruthy();
  const names = new Set([...form!.querySelectorAll('input, button, select, textarea')].map((i) => i.getAttribute('name')).filter((n): n is string => !!n));
  for (const k of Object.keys(fields)) names.add(k);
  expect(names.size).toBeGreaterThan(0);
  for (const name of names) {
    await property(name, (s) => postForm(browser, page, selector, fields, name, s));
  }
  // Bad bytes in the body itself (not escaped): invalid UTF-8.
  const res = await browser.request(new URL(form!.getAttribute('action') ?? page.url, page.url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.concat([Buffer.from(`${formBody(page, selector, fields, 'x', { encoded: '' })}&email=`), Buffer.from([0xff, 0xfe, 0x00])]),
  });
  await res.arrayBuffer();
  expect(res.status).toBe(400);
}

async function expectPage(url: string, browser = new Browser()): Promise<Page> {
  const page = await browser.page(url);
  expect(page.status).toBe(200);
  return page;
}

// ---------------------------------------------------------------------------------------------------

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '1000' });
  web = await registerClient(h.app, h.running.issuer);
  thirdParty = await registerClient(h.app, h.running.issuer, { thirdParty: true });
  clientId = web.clientId;
  const org = await h.api('POST', '/organizations', { name: 'Edge Co' });
  expect(org.status).toBe(201);
  orgId = org.body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'edge.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.edge.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/edge.example/verify`)).status).toBe(200);
  expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { authentication: { enforce2fa: true } } })).status).toBe(200);
  const victim = await h.api('POST', '/users', { email: 'victim@example.com', password: PASSWORD });
  expect(victim.status).toBe(201);
  victimId = victim.body.id;
});
afterAll(() => h?.stop());

describe('hostile text at every form field', () => {
  it('sign-in page: email, password, csrf, and bad bytes', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    await everyField(loginPage, browser, 'form[action$="/password"]', { email: 'nobody@example.com', password: 'Wrong-Pass-1' });
  });

  it('authorization request query parameters and the interaction path', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const base = new URL(loginPage.url);
    for (const param of ['login_hint', 'state', 'nonce', 'scope', 'prompt', 'ui_locales', 'x-extra']) {
      await property(param, async (s) => {
        const url = new URL('/auth', h.running.issuer);
        url.search = new URLSearchParams({ client_id: web.clientId, response_type: 'code', redirect_uri: 'http://127.0.0.1:8999/callback', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).toString();
        const res = await new Browser().request(`${url.href}&${param}=${s.encoded}`);
        await res.arrayBuffer();
        return res.status;
      });
    }
    await property('path', async (s) => {
      const res = await browser.request(`${base.origin}/interaction/${s.encoded}`);
      await res.arrayBuffer();
      return res.status;
    });
  });

  it('token endpoint form and userinfo query', async () => {
    for (const field of ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id']) {
      await property(field, async (s) => {
        const fields: Record<string, string> = { grant_type: 'authorization_code', code: 'nope', redirect_uri: 'http://127.0.0.1:8999/callback', code_verifier: 'v'.repeat(43), client_id: thirdParty.clientId };
        const body = Object.entries(fields).map(([k, v]) => `${k}=${k === field ? s.encoded : encodeURIComponent(v)}`).join('&');
        const res = await fetch(`${h.running.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${thirdParty.clientId}:${thirdParty.clientSecret}`).toString('base64')}` }, body });
        await res.arrayBuffer();
        return res.status;
      });
    }
  });

  it('forgot-password and reset-password pages', async () => {
    const browser = new Browser();
    const forgot = await expectPage(`${h.running.issuer}/password/forgot`, browser);
    await everyField(forgot, browser, 'form[action="/password/forgot"]', { email: 'nobody@example.com' });
    const link = await adminResetLink(h, victimId, 'victim@example.com');
    const resetBrowser = new Browser();
    const reset = await expectPage(link, resetBrowser);
    await everyField(reset, resetBrowser, 'form[action="/password/reset"]', { newPassword: 'a', confirmPassword: 'b' });
    await property('token', async (s) => {
      const res = await resetBrowser.request(`${h.running.issuer}/password/reset?token=${s.encoded}`);
      await res.arrayBuffer();
      return res.status;
    });
  });

  it('account page', async () => {
    const email = 'account@example.com';
    expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    await submitPassword(browser, loginPage, email, PASSWORD);
    const account = await expectPage(`${h.running.issuer}/account/security`, browser);
    await everyField(account, browser, 'form[action="/account/password"]', { currentPassword: 'Wrong-Pass-1', newPassword: 'a', confirmPassword: 'b' });
  });

  it('second factor: enrollment and code pages', async () => {
    const enrolling = 'enroll@edge.example';
    expect((await h.api('POST', '/users', { email: enrolling, password: PASSWORD })).status).toBe(201);
    const b1 = new Browser();
    const s1 = await startSignIn(b1, web);
    const r1 = await b1.submit(s1.loginPage, 'form[action$="/password"]', { email: enrolling, password: PASSWORD });
    expect(r1.status).toBe(303);
    const enrollPage = (await chooseAuthenticatorApp(b1, await land(b1, r1, s1.loginPage.url))).page!;
    await everyField(enrollPage, b1, 'form[action$="/enroll-totp"]', { code: '000000' });

    const enrolled = 'enrolled@edge.example';
    const created = await h.api('POST', '/users', { email: enrolled, password: PASSWORD });
    const account = await h.app.services.accounts.get(created.body.id);
    const enrollment = await h.app.services.twoFactor.startEnrollment(account);
    const codes = await h.app.services.twoFactor.confirmEnrollment(account, enrollment.sealed, await generate({ secret: enrollment.secret }), { type: 'user', id: account.id }, { ip: null, userAgent: null });
    expect(codes).toHaveLength(10);
    const b2 = new Browser();
    const s2 = await startSignIn(b2, web);
    const r2 = await b2.submit(s2.loginPage, 'form[action$="/password"]', { email: enrolled, password: PASSWORD });
    expect(r2.status).toBe(303);
    const totpPage = await b2.page(new URL(r2.headers.get('location')!, s2.loginPage.url).href);
    await everyField(totpPage, b2, 'form[action$="/totp"]', { code: '000000' });
  });

  it('consent page', async () => {
    const email = 'consent@example.com';
    expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, thirdParty);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: PASSWORD });
    expect(res.status).toBe(303);
    const consent = await browser.page(new URL(res.headers.get('location')!, loginPage.url).href);
    await everyField(consent, browser, 'form[action$="/consent"]', { decision: 'nothing' });
  });
});

// ---------------------------------------------------------------------------------------------------

/** The keys of an object schema (under defaults and optionals), or none. */
function keysOf(schema: z.ZodType | undefined): string[] {
  let s: unknown = schema;
  for (let i = 0; i < 5 && s; i++) {
    if (s instanceof z.ZodObject) return Object.keys(s.shape);
    s = (s as { def?: { innerType?: unknown } }).def?.innerType;
  }
  return [];
}

/** A body that passes the route's own checks, where one is easy to give, so hostile fields reach deep. */
const BASE_BODIES: Record<string, Record<string, unknown>> = {
  'post /users': { email: 'new-user@example.com', password: PASSWORD },
  'post /organizations': { name: 'Fine' },
  'post /clients': { client_name: 'Fine', session_type: 'web', redirect_uris: ['https://rp.example/cb'] },
  'post /organizations/{orgId}/domains': { domain: 'fine.example' },
  'post /organizations/{orgId}/members': { userId: 'nobody' },
};

/**
 * The route's path with one parameter attacked. The others name real things for reads; for changes they name
 * nothing, so that an accepted request (random but harmless text elsewhere) cannot delete the fixtures the
 * other tests use (the web client, the victim, the domain claim).
 */
function pathWith(route: AdminRoute, attacked?: string, value?: string): string {
  const real: Record<string, string> = { orgId, userId: victimId, clientId, domain: 'edge.example' };
  const other = (name: string) => (route.method === 'get' ? (real[name] ?? 'x') : `no-such-${name}`);
  return route.path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === attacked ? value! : encodeURIComponent(other(name))));
}

async function adminCall(method: string, path: string, body?: string | Buffer) {
  const res = await fetch(`${h.running.issuer}/admin/v1${path}`, {
    method: method.toUpperCase(),
    headers: { authorization: `Bearer ${h.platformToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('hostile text at every admin route', () => {
  it('the registry lists the routes this test walks', () => {
    expect(adminRoutes.length).toBeGreaterThan(15);
  });

  for (const route of adminRoutes) {
    const name = `${route.method} ${route.path}`;
    it(`${name}: path parameters, query and body`, async () => {
      for (const param of pathParams(route.path)) {
        await property(param, (s) => adminCall(route.method, pathWith(route, param, s.encoded)));
      }
      for (const key of [...keysOf(route.query), 'unexpected']) {
        await property(key, (s) => adminCall(route.method, `${pathWith(route)}?${encodeURIComponent(key)}=${s.encoded}`));
      }
      if (!route.body) return;
      const base = BASE_BODIES[name] ?? {};
      for (const key of keysOf(route.body)) {
        // JSON carries text, not escapes: bad escapes stand for bad bytes here, sent raw.
        await property(key, async (s) => {
          if (s.value === undefined) {
            const raw = Buffer.concat([Buffer.from(`{"${key}":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
            return adminCall(route.method, pathWith(route), raw);
          }
          return adminCall(route.method, pathWith(route), JSON.stringify({ ...base, [key]: s.value }));
        });
        // Nested: hostile text inside objects and arrays (policy documents, redirect URIs), and as a key.
        await fc.assert(
          fc.asyncProperty(withHostileChar, fc.constantFrom('value', 'nested', 'array', 'key'), async (v, where) => {
            const before = await counts();
            const inner = where === 'value' ? v : where === 'nested' ? { login: { ipWhitelist: { cidrs: [v] } } } : where === 'array' ? [v] : { [v]: 1 };
            const status = await adminCall(route.method, pathWith(route), JSON.stringify({ ...base, [key]: inner }));
            expect(status).toBeLessThan(500);
            // A password may hold control characters other than NUL; everything else here must be refused.
            if (where !== 'value' || mustRefuse(key, v)) {
              expect(status).toBe(400);
              expect(await counts()).toEqual(before);
            }
          }),
          { numRuns: RUNS },
        );
      }
    });
  }
});

describe('the reported cases, answered in each caller\'s language', () => {
  it('NUL in the sign-in form: the error page, 400, nothing stored', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const before = await counts();
    const status = await postForm(browser, loginPage, 'form[action$="/password"]', { password: PASSWORD }, 'email', { encoded: 'victim%00@example.com' });
    expect(status).toBe(400);
    expect(await counts()).toEqual(before);
    const res = await browser.request(new URL(loginPage.doc.querySelector('form[action$="/password"]')!.getAttribute('action')!, loginPage.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formBody(loginPage, 'form[action$="/password"]', { password: PASSWORD }, 'email', { encoded: 'victim%00@example.com' }),
    });
    const html = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('email must not contain control characters');
  });

  it('admin create-user, create-organization and user search: 400 naming the field, nothing stored', async () => {
    const before = await counts();
    const user = await h.api('POST', '/users', { email: 'ceo\u0000@edge.example', password: PASSWORD });
    expect(user.status).toBe(400);
    expect(user.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(user.body.errors).toEqual([{ field: 'email', message: 'must not contain control characters' }]);
    const org = await h.api('POST', '/organizations', { name: 'Evil\u0000Corp' });
    expect(org.body.errors).toEqual([{ field: 'name', message: 'must not contain control characters' }]);
    const lone = await h.api('POST', '/organizations', { name: 'Evil\ud800Corp' });
    expect(lone.body.errors).toEqual([{ field: 'name', message: 'must be valid Unicode text' }]);
    const search = await h.api('GET', '/users?email=a%00b@edge.example');
    expect(search.status).toBe(400);
    expect(search.body.errors).toEqual([{ field: 'email', message: 'must not contain control characters' }]);
    expect(await counts()).toEqual(before);
  });

  it('bad percent-encoding in an admin path: 400 naming the path; an escaped percent sign is decoded once', async () => {
    const bad = await h.api('GET', '/organizations/%ZZ');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: 'path', message: 'is not valid percent-encoded UTF-8' }]);
    expect((await h.api('GET', '/organizations/%C3%28')).status).toBe(400);
    expect((await h.api('GET', '/organizations/%25ZZ')).status).toBe(404);
  });

  it('oidc-provider endpoints: invalid_request', async () => {
    const token = await fetch(`${h.running.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=a%00b&client_id=x',
    });
    expect(token.status).toBe(400);
    expect(await token.json()).toEqual({ error: 'invalid_request', error_description: 'code must not contain control characters' });
    const auth = await fetch(`${h.running.issuer}/auth?client_id=${web.clientId}&login_hint=%ZZ`);
    expect(auth.status).toBe(400);
    expect(await auth.text()).toContain('invalid_request');
  });
});

describe('found by the properties', () => {
  it('a user search by text that is not an email address is an empty page (it was a NUL lookup: 500 on PostgreSQL)', async () => {
    for (const q of ['', 'nope', '%40', 'a@']) {
      const res = await h.api('GET', `/users?email=${q}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    }
  });
});
