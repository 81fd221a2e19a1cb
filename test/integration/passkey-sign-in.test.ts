/**
 * Passkeys through the real sign-in pages over real HTTP, without a browser: the test's Browser
 * (cookies, forms) asks the options endpoint as the page's script does, a software authenticator
 * (test/helpers/soft-authenticator.ts) answers, and the answer is posted in the page's passkey form
 * (`credential`). Sign-ins end at the client's callback and the code is exchanged with openid-client;
 * the ID token's `amr` says how the user signed in. The policy still applies after a passkey: lockout,
 * IP whitelist, password expiry (told, not forced), concurrent web sessions. Runs on the configured
 * backend (SQLite; PostgreSQL + Redis with DATABASE_URL and REDIS_URL).
 */
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { randomUUID } from 'node:crypto';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { authorizationUrl, registerClient, RP, startSignIn, type StartedSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { SoftAuthenticator, type Ceremony, type SoftAuthenticatorOptions } from '../helpers/soft-authenticator.js';
import { land, stepOf, type Landing } from '../helpers/two-factor.js';

const PASSWORD = 'Passkey-Http-Pass-1';
const PASSKEY_FAILED = 'That passkey could not be used. Try again, or use another way to sign in.';
// The lock says how long it still lasts (strategies/password.ts lockedFor).
const LOCKED = expect.stringMatching(/^Too many failed sign-ins\. Try again in \d+ minutes?, or reset your password\.$/);
const BLOCKED = 'Your organization does not allow signing in from this network.';
const SUPERSEDED = 'Two-step verification was set up or changed for this account in the meantime. This setup is no longer valid: sign in again.';
const EXPIRED_FORM = 'This form has expired. Please try again.';
const INSIDE = '203.0.113.9';
const OUTSIDE = '198.51.100.9';

let h: AdminHarness;
let web: TestClient;
const orgs: Record<'plain' | 'walled' | 'expiring' | 'enforced' | 'single', string> = { plain: '', walled: '', expiring: '', enforced: '', single: '' };
let n = 0;

beforeAll(async () => {
  // Behind a trusted proxy on loopback: X-Forwarded-For names the client's address.
  h = await startAdminHarness({ TRUSTED_PROXIES: '127.0.0.1', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  web = await registerClient(h.app, h.running.issuer);
  orgs.plain = await organizationWithDomain(h, 'Plain', 'plain.example');
  await putPolicy(h, orgs.plain, { session: { preventConcurrentWebSessions: false } });
  orgs.walled = await organizationWithDomain(h, 'Walled', 'walled.example');
  await putPolicy(h, orgs.walled, { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } });
  orgs.expiring = await organizationWithDomain(h, 'Expiring', 'expiring.example');
  await putPolicy(h, orgs.expiring, { password: { expirationDays: 90, minAgeHours: 0 } });
  orgs.enforced = await organizationWithDomain(h, 'Enforced', 'enforced.example');
  await putPolicy(h, orgs.enforced, { authentication: { enforce2fa: true } });
  orgs.single = await organizationWithDomain(h, 'Single', 'single.example');
  await putPolicy(h, orgs.single, { session: { preventConcurrentWebSessions: true } });
});
afterAll(() => h.stop());

const authenticator = (options: Partial<SoftAuthenticatorOptions> = {}) => new SoftAuthenticator({ origin: h.running.issuer, ...options });

async function user(domain: string) {
  const email = `p${++n}@${domain}`;
  const id = await createUser(h, email, PASSWORD);
  return { email, id };
}

/** A user with a passkey of `soft`, registered and stored the way the account page does it. */
async function userWithPasskey(domain: string, soft = authenticator()) {
  const u = await user(domain);
  const services = h.app.services;
  const account = (await services.accounts.findById(u.id))!;
  const binding = `test:${randomUUID()}`;
  const result = await services.passkeys.verifyRegistration(account, binding, soft.register(await services.passkeys.registrationOptions(account, binding, [])));
  if (!result.ok) throw new Error(`set-up failed: registration refused (${result.reason})`);
  if (!(await services.passkeys.addPasskey(account, result.factor, {}, { type: 'user', id: u.id }, { ip: null, userAgent: null }))) throw new Error('set-up failed: not stored');
  return { ...u, soft, passkey: result.factor };
}

/** POST /interaction/:uid/passkey/options from the page's passkey form, as its script does. */
async function askOptions(browser: Browser, page: Page, selector: string, csrf?: string, headers: Record<string, string> = {}) {
  const form = page.doc.querySelector(selector);
  if (!form) throw new Error(`no form ${selector} on ${page.url}`);
  const url = new URL(form.getAttribute('data-options')!, page.url).href;
  const token = csrf ?? form.querySelector('input[name=csrf]')!.getAttribute('value')!;
  return browser.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ csrf: token }).toString(),
  });
}

const PASSKEY_FORM = 'form[data-passkey="authenticate"]';

/** The ceremony on the sign-in page: options, the authenticator's answer (JSON, as the page posts it). */
async function assertion(browser: Browser, page: Page, soft: SoftAuthenticator, lie?: Ceremony, headers: Record<string, string> = {}) {
  const res = await askOptions(browser, page, PASSKEY_FORM, undefined, headers);
  if (res.status !== 200) throw new Error(`options answered ${res.status}: ${await res.text()}`);
  return JSON.stringify(soft.authenticate((await res.json()) as PublicKeyCredentialRequestOptionsJSON, lie));
}

/** Posts an assertion in the sign-in page's passkey form. */
const postCredential = (browser: Browser, page: Page, credential: string, headers: Record<string, string> = {}) =>
  browser.submit(page, PASSKEY_FORM, { credential }, headers);

/** A password-less attempt from a fresh sign-in page: the answer and where it leads. */
async function passwordless(browser: Browser, soft: SoftAuthenticator, options: { lie?: Ceremony; headers?: Record<string, string>; started?: StartedSignIn } = {}) {
  const started = options.started ?? (await startSignIn(browser, web));
  const credential = await assertion(browser, started.loginPage, soft, options.lie, options.headers);
  const res = await postCredential(browser, started.loginPage, credential, options.headers);
  return { res, started, credential };
}

/** What a refused submission showed: its status and errors. */
async function refusal(res: Response, from: Page) {
  return { status: res.status, errors: errorsOn(await pageOf(res, from.url)) };
}

/** Follows a 303 to the next page or the callback. */
const next = (browser: Browser, res: Response, from: Page): Promise<Landing> => {
  if (res.status !== 303) throw new Error(`expected 303, got ${res.status}`);
  return land(browser, res, from.url);
};

/** Exchanges the code at the callback; returns the tokens and the ID token's claims. */
async function exchange(started: StartedSignIn, callback: string) {
  const tokens = await client.authorizationCodeGrant(web.config, new URL(callback), { pkceCodeVerifier: started.verifier, expectedState: started.state });
  return { tokens, claims: decodeJwt(tokens.id_token!) };
}

/** Email and password, then the account's passkey on the second step; where that leads. */
async function passwordThenPasskey(browser: Browser, u: { email: string; soft: SoftAuthenticator }) {
  const started = await startSignIn(browser, web);
  const res = await browser.submit(started.loginPage, 'form[action$="/password"]:not([data-passkey])', { email: u.email, password: PASSWORD });
  const second = await next(browser, res, started.loginPage);
  expect(stepOf(second)).toBe('passkey');
  const options = await askOptions(browser, second.page!, 'form[action$="/passkey"][data-passkey]');
  expect(options.status).toBe(200);
  const credential = JSON.stringify(u.soft.authenticate((await options.json()) as PublicKeyCredentialRequestOptionsJSON));
  const answer = await browser.submit(second.page!, 'form[action$="/passkey"][data-passkey]', { credential });
  return { started, landing: await next(browser, answer, second.page!) };
}

const failureReasons = async (orgId: string, email: string) =>
  (await h.api('GET', `/organizations/${orgId}/events?type=sign_in.failed&limit=200`)).body.items
    .filter((e: { data: { email: string } }) => e.data.email === email)
    .map((e: { data: { reason: string } }) => e.data.reason);

const dbRow = (table: string, where: object) => h.app.services.db(table).where(where).first();

describe('password-less sign-in', () => {
  it('a device-bound passkey signs in alone: callback, amr hwk + mfa, the counter moved', async () => {
    const u = await userWithPasskey('plain.example');
    const browser = new Browser();
    const { res, started } = await passwordless(browser, u.soft);
    const landing = await next(browser, res, started.loginPage);
    expect(stepOf(landing)).toBe('callback');
    const { claims } = await exchange(started, landing.callback!);
    expect(claims.sub).toBe(u.id);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect((await dbRow('factors', { credential_id: u.passkey.credentialId })).sign_count).toBe(1);
    const succeeded = (await h.api('GET', `/organizations/${orgs.plain}/events?type=sign_in.succeeded&limit=200`)).body.items;
    expect(succeeded.filter((e: { targetId: string }) => e.targetId === u.id)).toHaveLength(1);
  });

  it('a synced (backed-up) passkey is swk + mfa', async () => {
    const u = await userWithPasskey('plain.example', authenticator({ synced: true }));
    const browser = new Browser();
    const { res, started } = await passwordless(browser, u.soft);
    const landing = await next(browser, res, started.loginPage);
    expect((await exchange(started, landing.callback!)).claims.amr).toEqual(['swk', 'mfa']);
  });

  it('a passkey without user verification is refused on the sign-in page, and the email is not shown back', async () => {
    const u = await userWithPasskey('plain.example');
    const browser = new Browser();
    const { res, started } = await passwordless(browser, u.soft, { lie: { userVerified: false } });
    const shown = await pageOf(res, started.loginPage.url);
    expect({ status: shown.status, errors: errorsOn(shown) }).toEqual({ status: 401, errors: [PASSKEY_FAILED] });
    expect(shown.doc.querySelector('#email')!.getAttribute('value')).toBe('');
    expect(shown.html).not.toContain(u.email);
    expect(await failureReasons(orgs.plain, u.email)).toEqual(['passkey-refused']);
  });
});

describe('lockout', () => {
  it('five failed passkey assertions lock the account: then a valid passkey and the password are refused with the lock message', async () => {
    const u = await userWithPasskey('plain.example');
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    let page = loginPage;
    for (let i = 0; i < 5; i++) {
      const res = await postCredential(browser, page, await assertion(browser, page, u.soft, { wrongKey: true }));
      page = await pageOf(res, page.url);
      expect({ status: page.status, errors: errorsOn(page) }).toEqual({ status: 401, errors: [PASSKEY_FAILED] });
    }
    expect((await dbRow('accounts', { id: u.id })).locked_until).not.toBeNull();
    // The same sign-in page, a valid assertion: the lock message.
    const valid = await postCredential(browser, page, await assertion(browser, page, u.soft));
    expect(await refusal(valid, page)).toEqual({ status: 429, errors: [LOCKED] });
    // A fresh sign-in, valid again.
    const fresh = await passwordless(new Browser(), u.soft);
    expect(await refusal(fresh.res, fresh.started.loginPage)).toEqual({ status: 429, errors: [LOCKED] });
    // The password, on its own form.
    const other = new Browser();
    const { loginPage: passwordPage } = await startSignIn(other, web);
    const byPassword = await other.submit(passwordPage, 'form[action$="/password"]:not([data-passkey])', { email: u.email, password: PASSWORD });
    expect(await refusal(byPassword, passwordPage)).toEqual({ status: 429, errors: [LOCKED] });
    // Nothing moved the passkey's counter, and the audit trail says why each attempt failed.
    expect((await dbRow('factors', { credential_id: u.passkey.credentialId })).sign_count).toBe(0);
    expect((await failureReasons(orgs.plain, u.email)).sort()).toEqual(['locked', 'locked', 'locked', ...Array(5).fill('passkey-refused')].sort());
  });
});

describe('IP whitelist', () => {
  it('refuses a password-less sign-in from outside (403, audited ip-not-allowed), counting nothing; from inside it signs in', async () => {
    const u = await userWithPasskey('walled.example');
    const browser = new Browser();
    const outside = { 'x-forwarded-for': OUTSIDE };
    const { res, started } = await passwordless(browser, u.soft, { headers: outside });
    const shown = await pageOf(res, started.loginPage.url);
    expect({ status: shown.status, errors: errorsOn(shown) }).toEqual({ status: 403, errors: [BLOCKED] });
    expect(shown.html).not.toContain(u.email);
    expect(await failureReasons(orgs.walled, u.email)).toEqual(['ip-not-allowed']);
    expect(await dbRow('accounts', { id: u.id })).toMatchObject({ failed_attempts: 0 });
    expect((await dbRow('factors', { credential_id: u.passkey.credentialId })).sign_count).toBe(0);

    const inside = { 'x-forwarded-for': INSIDE };
    const insider = new Browser();
    const again = await passwordless(insider, u.soft, { headers: inside });
    expect(stepOf(await next(insider, again.res, again.started.loginPage))).toBe('callback');
  });
});

describe('password expiry after a passkey', () => {
  it('an expired password is told, not forced: the notice, then the callback; the password sign-in must change it', async () => {
    const u = await userWithPasskey('expiring.example');
    const longAgo = Math.floor(Date.now() / 1000) - 100 * 86_400;
    await h.app.services.db('accounts').where({ id: u.id }).update({ password_changed_at: longAgo });

    const browser = new Browser();
    const { res, started } = await passwordless(browser, u.soft);
    const notice = await next(browser, res, started.loginPage);
    expect(stepOf(notice)).toBe('expiry-warning');
    expect(notice.page!.html).toContain('Your password has expired');
    expect(notice.page!.html).toContain('You signed in with a passkey, so you can carry on');
    const carryOn = await browser.submit(notice.page!, 'form[action$="/expiry-warning"]', { action: 'continue' });
    const landing = await next(browser, carryOn, notice.page!);
    expect(stepOf(landing)).toBe('callback');
    expect((await exchange(started, landing.callback!)).claims.amr).toEqual(['hwk', 'mfa']);
    // The password is still expired: a sign-in with it (and the passkey as second step) must change it.
    expect(stepOf((await passwordThenPasskey(new Browser(), u)).landing)).toBe('change-password');
  });
});

describe('concurrent web sessions', () => {
  it('a passkey sign-in ends the earlier web session of the user (preventConcurrentWebSessions)', async () => {
    const u = await userWithPasskey('single.example');
    const first = new Browser();
    const earlier = await passwordThenPasskey(first, u);
    const { tokens: firstTokens, claims } = await exchange(earlier.started, earlier.landing.callback!);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);

    const second = new Browser();
    const { res, started } = await passwordless(second, u.soft);
    const landing = await next(second, res, started.loginPage);
    const { tokens: secondTokens } = await exchange(started, landing.callback!);

    await expect(client.refreshTokenGrant(web.config, firstTokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await client.refreshTokenGrant(web.config, secondTokens.refresh_token!)).access_token).toBeTruthy();
    // The first browser is asked to sign in again; the second is signed in still.
    const again = await first.follow(await authorizationUrl(web), (url) => url.startsWith(RP));
    expect('html' in again && again.html).toContain('autocomplete="current-password"');
    const still = await second.follow(await authorizationUrl(web), (url) => url.startsWith(RP));
    expect(still).toEqual({ redirectedTo: expect.stringContaining('code=') });
  });

  it('with the policy off, the earlier session lives on (the control)', async () => {
    const u = await userWithPasskey('plain.example');
    const earlier = await passwordThenPasskey(new Browser(), u);
    const { tokens } = await exchange(earlier.started, earlier.landing.callback!);
    const second = new Browser();
    const { res, started } = await passwordless(second, u.soft);
    expect(stepOf(await next(second, res, started.loginPage))).toBe('callback');
    expect((await client.refreshTokenGrant(web.config, tokens.refresh_token!)).access_token).toBeTruthy();
  });
});

describe('replay', () => {
  it('an assertion is used once: posted again in the same sign-in, at once, or in another sign-in, it is refused', async () => {
    const u = await userWithPasskey('plain.example');
    // Twice at once in one sign-in: one wins.
    const browser = new Browser();
    const { loginPage, verifier, state } = await startSignIn(browser, web);
    const credential = await assertion(browser, loginPage, u.soft);
    const [a, b] = await Promise.all([postCredential(browser, loginPage, credential), postCredential(browser, loginPage, credential)]);
    expect([a.status, b.status].filter((s) => s === 303)).toHaveLength(1);
    const [won, lost] = a.status === 303 ? [a, b] : [b, a];
    // Refused by the used challenge (both in the ceremony at once) or, had the winner already ended the
    // sign-in, by its form's token: either way the page again, never a second code.
    expect([{ status: 401, errors: [PASSKEY_FAILED] }, { status: 403, errors: [EXPIRED_FORM] }]).toContainEqual(await refusal(lost, loginPage));
    const landing = await next(browser, won, loginPage);
    expect(stepOf(landing)).toBe('callback');
    await exchange({ loginPage, verifier, state }, landing.callback!);
    // Again in the sign-in that used it (now over): no callback.
    const late = await postCredential(browser, loginPage, credential);
    expect(late.status).not.toBe(303);
    // In another sign-in (an attacker who captured it), whose own ceremony is outstanding.
    const attacker = new Browser();
    const theirs = await startSignIn(attacker, web);
    expect((await askOptions(attacker, theirs.loginPage, PASSKEY_FORM)).status).toBe(200);
    const replayed = await postCredential(attacker, theirs.loginPage, credential);
    expect(await refusal(replayed, theirs.loginPage)).toEqual({ status: 401, errors: [PASSKEY_FAILED] });
    expect((await dbRow('factors', { credential_id: u.passkey.credentialId })).sign_count).toBe(1);
  });
});

describe('options endpoint', () => {
  it('refuses a missing or wrong CSRF token with 403 JSON; the right one gets options for a discoverable passkey with user verification', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    for (const csrf of ['', 'not-the-token']) {
      const res = await askOptions(browser, loginPage, PASSKEY_FORM, csrf);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: expect.stringMatching(/expired/) });
    }
    const ok = await askOptions(browser, loginPage, PASSKEY_FORM);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const options = (await ok.json()) as PublicKeyCredentialRequestOptionsJSON;
    expect(options).toMatchObject({ rpId: '127.0.0.1', userVerification: 'required', challenge: expect.any(String) });
    expect(options.allowCredentials ?? []).toEqual([]);
  });
});

describe('enrollment under enforcement', () => {
  /** Password step of a user without factors: lands on the enrollment choice. */
  async function atEnrollment(email: string) {
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]:not([data-passkey])', { email, password: PASSWORD });
    const landing = await next(browser, res, started.loginPage);
    expect(stepOf(landing)).toBe('enroll');
    return { browser, started, page: landing.page! };
  }

  const REGISTER_FORM = 'form[data-passkey="register"]';

  /** The registration ceremony on the enrollment page: the authenticator's answer, as the page posts it. */
  async function registration(at: Awaited<ReturnType<typeof atEnrollment>>, soft: SoftAuthenticator) {
    const res = await askOptions(at.browser, at.page, REGISTER_FORM);
    expect(res.status).toBe(200);
    return JSON.stringify(soft.register((await res.json()) as PublicKeyCredentialCreationOptionsJSON));
  }

  const postRegistration = (at: Awaited<ReturnType<typeof atEnrollment>>, credential: string) => at.browser.submit(at.page, REGISTER_FORM, { credential });

  it('adds a passkey through the enroll step, shows the recovery codes once, and the next sign-in is the passkey alone', async () => {
    const u = await user('enforced.example');
    const at = await atEnrollment(u.email);
    const soft = authenticator();
    const answer = await postRegistration(at, await registration(at, soft));
    expect(answer.status).toBe(200);
    const shown = await pageOf(answer, at.page.url);
    const codes = shown.doc.querySelectorAll('ul.codes code').map((c) => c.text.trim());
    expect(codes).toHaveLength(10);
    const done = await at.browser.submit(shown, 'form[action$="/recovery-codes"]', {});
    const landing = await next(at.browser, done, shown);
    expect(stepOf(landing)).toBe('callback');
    expect((await exchange(at.started, landing.callback!)).claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    const stored = await h.app.services.db('factors').where({ account_id: u.id });
    expect(stored).toEqual([expect.objectContaining({ kind: 'passkey', credential_id: soft.credentials[0]!.id.toString('base64url') })]);

    const browser = new Browser();
    const { res, started } = await passwordless(browser, soft);
    const again = await next(browser, res, started.loginPage);
    expect((await exchange(started, again.callback!)).claims.amr).toEqual(['hwk', 'mfa']);
  });

  it('two browsers enrolling at once: one wins, the other gets 409 and the account holds one passkey', async () => {
    const u = await user('enforced.example');
    const [one, two] = [await atEnrollment(u.email), await atEnrollment(u.email)];
    const [softOne, softTwo] = [authenticator(), authenticator()];
    const [credentialOne, credentialTwo] = [await registration(one, softOne), await registration(two, softTwo)];
    const [a, b] = await Promise.all([postRegistration(one, credentialOne), postRegistration(two, credentialTwo)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [loser, loserPage, winnerSoft] = a.status === 200 ? [b, two.page, softOne] : [a, one.page, softTwo];
    const lost = await pageOf(loser, loserPage.url);
    expect(errorsOn(lost)).toEqual([SUPERSEDED]);
    const stored = await h.app.services.db('factors').where({ account_id: u.id });
    expect(stored.map((f: { credential_id: string }) => f.credential_id)).toEqual([winnerSoft.credentials[0]!.id.toString('base64url')]);
    expect(await failureReasons(orgs.enforced, u.email)).toEqual(['enrollment-superseded']);
  });
});
