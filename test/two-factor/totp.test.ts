import { generate } from 'otplib';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { registerClient, RP, startSignIn, type TestClient } from '../helpers/oidc.js';
import { chooseAuthenticatorApp, land } from '../helpers/two-factor.js';
import { forgotPasswordLink, pageOf, resetThroughLink } from '../helpers/password-flows.js';
import { organizationWithDomain, putPolicy } from '../helpers/setup.js';

const PASSWORD = 'Second-Step-1';
let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;
const secretOf = new Map<string, string>();

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '100' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'Secure Co', 'secure.example');
  await putPolicy(h, orgId, { authentication: { enforce2fa: true }, password: { minAgeHours: 0 } });
});
afterAll(() => h.stop());

async function user(domain = 'secure.example') {
  const email = `t${++n}@${domain}`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** Password step; returns the page the browser lands on next (or the callback URL). */
async function afterPassword(browser: Browser, email: string, started?: Awaited<ReturnType<typeof startSignIn>>) {
  const s = started ?? (await startSignIn(browser, web));
  const res = await browser.submit(s.loginPage, 'form[action$="/password"]', { email, password: PASSWORD });
  expect(res.status).toBe(303);
  const landing = await chooseAuthenticatorApp(browser, await land(browser, res, s.loginPage.url));
  const next = landing.page ?? { redirectedTo: landing.callback! };
  return { next, started: s };
}

async function submitCode(browser: Browser, page: Page, selector: string, code: string) {
  const res = await browser.submit(page, selector, { code });
  if (res.status === 303) return { status: 303, location: new URL(res.headers.get('location')!, page.url).href, page: undefined };
  return { status: res.status, location: undefined, page: await pageOf(res, page.url) };
}

/** Enrolls through the pages; returns the secret and the recovery codes shown. */
async function enroll(email: string) {
  const browser = new Browser();
  const { next, started } = await afterPassword(browser, email);
  if ('redirectedTo' in next) throw new Error('enrollment skipped');
  expect(next.doc.querySelector('img')!.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
  expect(next.doc.querySelector('input[name=code]')!.getAttribute('autocomplete')).toBe('one-time-code');
  const secret = next.doc.querySelector('code.secret')!.text.replace(/\s/g, '');
  secretOf.set(email, secret);
  const wrong = await submitCode(browser, next, 'form[action$="/enroll-totp"]', '000000');
  expect(wrong.status).toBe(400);
  const shown = await submitCode(browser, next, 'form[action$="/enroll-totp"]', await generate({ secret }));
  expect(shown.status).toBe(200);
  const codes = shown.page!.doc.querySelectorAll('ul.codes code').map((c) => c.text);
  expect(codes).toHaveLength(10);
  const done = await browser.submit(shown.page!, 'form[action$="/recovery-codes"]', {});
  expect(done.status).toBe(303);
  const callback = await browser.follow(new URL(done.headers.get('location')!, shown.page!.url).href, (u) => u.startsWith(RP));
  if (!('redirectedTo' in callback)) throw new Error('no code after enrollment');
  const tokens = await client.authorizationCodeGrant(web.config, new URL(callback.redirectedTo), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
  });
  return { secret, codes, tokens };
}

/** A later sign-in: password, then the TOTP page; returns that page. */
async function totpPage(email: string) {
  const browser = new Browser();
  const { next, started } = await afterPassword(browser, email);
  if ('redirectedTo' in next) throw new Error('no second step');
  expect(next.doc.querySelector('form[action$="/totp"] input[name=code]')!.getAttribute('autocomplete')).toBe('one-time-code');
  return { browser, page: next, started };
}

/**
 * A code from the next 30-second step, as a phone running slightly ahead would show: accepted (one step
 * of drift is allowed) and later than the step used to confirm the enrollment a moment ago.
 */
const nextStepCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

describe('enforced two-step verification', () => {
  it('takes a user without a second factor through enrollment before the code is issued', async () => {
    const u = await user();
    const { tokens } = await enroll(u.email);
    expect(decodeJwt(tokens.id_token!).amr).toEqual(['pwd', 'otp', 'mfa']);
    const view = (await h.api('GET', `/users/${u.id}`)).body;
    expect(view.twoFactorEnabled).toBe(true);
    expect(view.factors).toEqual([{ id: expect.any(String), kind: 'totp', label: 'Authenticator app', createdAt: expect.any(String), lastUsedAt: null }]);
    const stored = await h.app.services.db('factors').where({ account_id: u.id, kind: 'totp' }).first();
    expect(stored.secret).toBeTruthy();
    expect(stored.secret).not.toContain(secretOf.get(u.email)); // sealed, not the seed itself
  });

  it('asks for a TOTP code at every later sign-in; a code works once', async () => {
    const u = await user();
    const { secret } = await enroll(u.email);
    const first = await totpPage(u.email);
    const code = await nextStepCode(secret);
    const ok = await submitCode(first.browser, first.page, 'form[action$="/totp"]', code);
    expect(ok.status).toBe(303);
    const replay = await totpPage(u.email);
    const again = await submitCode(replay.browser, replay.page, 'form[action$="/totp"]', code);
    expect(again.status).toBe(401);
    expect(errorsOn(again.page!)).toEqual(['That code is not valid. Check your app and try again.']);
  });

  it('accepts each recovery code once', async () => {
    const u = await user();
    const { codes } = await enroll(u.email);
    const a = await totpPage(u.email);
    expect((await submitCode(a.browser, a.page, 'form[action$="/totp"]', codes[0]!.toLowerCase())).status).toBe(303);
    const b = await totpPage(u.email);
    expect((await submitCode(b.browser, b.page, 'form[action$="/totp"]', codes[0]!)).status).toBe(401);
    const c = await totpPage(u.email);
    expect((await submitCode(c.browser, c.page, 'form[action$="/totp"]', codes[1]!)).status).toBe(303);
    const events = (await h.api('GET', `/organizations/${orgId}/events?type=two_factor.recovery_code_used&limit=1`)).body.items;
    expect(events[0].data).toEqual({ remaining: 8 });
  });

  it('counts wrong codes toward the lockout with wrong passwords', async () => {
    const u = await user();
    await enroll(u.email);
    const { browser, page } = await totpPage(u.email);
    for (let i = 0; i < 5; i++) expect((await submitCode(browser, page, 'form[action$="/totp"]', '123456')).status).toBe(401);
    const locked = await submitCode(browser, page, 'form[action$="/totp"]', '654321');
    expect(locked.status).toBe(429);
    expect((await h.api('GET', `/users/${u.id}`)).body.lockedUntil).toEqual(expect.any(String));
  });

  it('a forgot-password reset does not sign in or skip the second step', async () => {
    const u = await user();
    await enroll(u.email);
    expect(await resetThroughLink(await forgotPasswordLink(h, u.email), 'Another-Pass-3')).toEqual({ accepted: true, errors: [] });
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: 'Another-Pass-3' });
    const next = await browser.page(new URL(res.headers.get('location')!, started.loginPage.url).href);
    expect(next.doc.querySelector('form[action$="/totp"]')).toBeTruthy();
  });

  it('an admin can reset a lost second factor; the user enrolls again', async () => {
    const u = await user();
    await enroll(u.email);
    const res = await h.api('POST', `/users/${u.id}/reset-2fa`);
    expect(res.body.twoFactorEnabled).toBe(false);
    expect(res.body.factors).toEqual([]);
    const { next } = await afterPassword(new Browser(), u.email);
    expect('html' in next && next.doc.querySelector('form[action$="/enroll-totp"]')).toBeTruthy();
  });

  it('is not asked of users the policy does not govern, unless they enrolled', async () => {
    const outsider = await user('other.example');
    const { next } = await afterPassword(new Browser(), outsider.email);
    expect('redirectedTo' in next).toBe(true);
  });

  it('the preview counts who would have to enroll', async () => {
    const before = (await h.api('POST', `/organizations/${orgId}/security-policy/preview`, { policy: { authentication: { enforce2fa: true } } })).body;
    await user();
    const after = (await h.api('POST', `/organizations/${orgId}/security-policy/preview`, { policy: { authentication: { enforce2fa: true } } })).body;
    expect(after.mustEnroll2fa).toBe(before.mustEnroll2fa + 1);
  });
});

