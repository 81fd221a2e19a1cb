import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, RP, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { forgotPasswordLink, pageOf, resetThroughLink, submitNewPassword } from '../helpers/password-flows.js';
import { organizationWithDomain } from '../helpers/setup.js';

let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;
const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '3' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'Initech', 'initech.example');
});
afterAll(() => h.stop());

const setPolicy = async (password: object) =>
  expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { password } })).status).toBe(200);

async function user(password = 'First-Pass-1') {
  const email = `peter${++n}@initech.example`;
  const res = await h.api('POST', '/users', { email, password });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string, password };
}

const ageAccount = (id: string, days: number) =>
  h.app.services.db('accounts').where({ id }).update({ password_changed_at: now() - days * DAY });

/** Changes the password on the account page of a signed-in browser. */
async function changeOnAccountPage(browser: Browser, current: string, next: string) {
  const page = await browser.page(`${h.running.issuer}/account/security`);
  return submitNewPassword(browser, page, 'form[action="/account/password"]', next, { currentPassword: current });
}

describe('password expiry', () => {
  it('an expired password forces a new one before any code is issued', async () => {
    await setPolicy({ expirationDays: 90, minAgeHours: 0 });
    const u = await user();
    await ageAccount(u.id, 91);
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: u.password });
    expect(res.status).toBe(303);
    const change = await browser.follow(new URL(res.headers.get('location')!, started.loginPage.url).href, (url) => url.startsWith(RP));
    if ('redirectedTo' in change) throw new Error('a code was issued before the password was changed');
    expect(change.html).toContain('Your password has expired');

    // The same password again is refused; a good new one completes the sign-in.
    expect(await submitNewPassword(browser, change, 'form[action$="/change-password"]', u.password)).toEqual({
      accepted: false,
      errors: ['Choose a password different from your current one.'],
    });
    const done = await browser.submit(change, 'form[action$="/change-password"]', { newPassword: 'Second-Pass-2', confirmPassword: 'Second-Pass-2' });
    expect(done.status).toBe(303);
    const callback = await browser.follow(new URL(done.headers.get('location')!, change.url).href, (url) => url.startsWith(RP));
    if (!('redirectedTo' in callback)) throw new Error('no code after the change');
    const tokens = await client.authorizationCodeGrant(web.config, new URL(callback.redirectedTo), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
    expect(tokens.access_token).toBeTruthy();
    const view = (await h.api('GET', `/users/${u.id}`)).body;
    expect(Date.parse(view.passwordExpiresAt) - Date.parse(view.passwordChangedAt)).toBe(90 * DAY * 1000);
    const events = (await h.api('GET', `/organizations/${orgId}/events?type=password.changed&limit=1`)).body.items;
    expect(events[0]).toMatchObject({ targetId: u.id, data: { kind: 'forced' } });
  });

  it('warns at sign-in before expiry, and emails a warning once', async () => {
    await setPolicy({ expirationDays: 90, minAgeHours: 0 });
    const u = await user();
    await ageAccount(u.id, 80);
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: u.password });
    const warning = await browser.page(new URL(res.headers.get('location')!, started.loginPage.url).href);
    expect(warning.html).toMatch(/Your password expires in 10 days, on <time datetime="[^"]+" data-local="date-time">/);
    const go = await browser.submit(warning, 'form[action$="/expiry-warning"]', { action: 'continue' });
    expect(go.status).toBe(303);
    const callback = await browser.follow(new URL(go.headers.get('location')!, warning.url).href, (url) => url.startsWith(RP));
    expect('redirectedTo' in callback).toBe(true);

    expect(await h.app.services.expiryWarnings.run()).toContain(u.email);
    expect(await h.app.services.expiryWarnings.run()).not.toContain(u.email); // once per password
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('expires soon'));
    expect(mail.text).toContain('expires on');
    expect(h.smtp.to(u.email).filter((m) => m.subject.includes('expires soon'))).toHaveLength(1);
  });
});

describe('history and minimum age', () => {
  it('refuses a password from the history, and allows one older than it', async () => {
    await setPolicy({ historyCount: 5, minAgeHours: 0 });
    const u = await user('Pass-Zero-0');
    const browser = new Browser();
    await signIn(browser, web, u.email, u.password);
    let current = u.password;
    for (const next of ['Pass-One-1', 'Pass-Two-2', 'Pass-Three-3', 'Pass-Four-4', 'Pass-Five-5']) {
      expect(await changeOnAccountPage(browser, current, next)).toEqual({ accepted: true, errors: [] });
      current = next;
    }
    // The last five (Five, Four, Three, Two, One) are refused; Zero has dropped out of the window.
    expect(await changeOnAccountPage(browser, current, 'Pass-Two-2')).toEqual({
      accepted: false,
      errors: ['Choose a password you have not used for your last 5 passwords.'],
    });
    expect(await changeOnAccountPage(browser, current, 'Pass-Zero-0')).toEqual({ accepted: true, errors: [] });
    // Never more than ten hashes are kept.
    const kept = await h.app.services.db('password_history').where({ account_id: u.id }).count({ n: '*' }).first();
    expect(Number(kept!.n)).toBe(7);
  });

  it('refuses a change inside the minimum age, with when it becomes possible, while a forgot-password reset succeeds at the same moment', async () => {
    await setPolicy({ minAgeHours: 24 });
    const u = await user();
    const browser = new Browser();
    await signIn(browser, web, u.email, u.password);
    const refused = await changeOnAccountPage(browser, u.password, 'Brand-New-7');
    expect(refused.accepted).toBe(false);
    // A readable time (in the browser's zone once its script runs; UTC, saying so, without it), to the minute.
    expect(refused.errors[0]).toMatch(/You changed your password recently\. You can change it again after \w{3} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M UTC\.$/);
    const allowedAt = Date.parse(refused.errors[0]!.split('after ')[1]!.replace(/\.$/, ''));
    expect(Math.abs(allowedAt - (Date.now() + 24 * 3600_000))).toBeLessThan(120_000);

    const link = await forgotPasswordLink(h, u.email);
    expect(await resetThroughLink(link, 'Brand-New-7')).toEqual({ accepted: true, errors: [] });
    await signIn(new Browser(), web, u.email, 'Brand-New-7');
  });

  it('refuses a wrong current password on the account page', async () => {
    await setPolicy({ minAgeHours: 0 });
    const u = await user();
    const browser = new Browser();
    await signIn(browser, web, u.email, u.password);
    expect(await changeOnAccountPage(browser, 'Not-The-Pass-1', 'Brand-New-8')).toEqual({
      accepted: false,
      errors: ['Your current password is not correct.'],
    });
  });
});

describe('forgot password', () => {
  it('a link works once, does not sign the user in, and expires', async () => {
    await setPolicy({ minAgeHours: 0 });
    const u = await user();
    const link = await forgotPasswordLink(h, u.email);
    const browser = new Browser();
    const page = await browser.page(link);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const first = await browser.submit(page, 'form[action="/password/reset"]', { newPassword: 'Reset-Pass-1', confirmPassword: 'Reset-Pass-1' });
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('sign in with the new password');
    expect(await browser.request(`${h.running.issuer}/account/security`).then((r) => r.status)).toBe(401); // not signed in
    expect(await resetThroughLink(link, 'Reset-Pass-2')).toMatchObject({ accepted: false });
    await signIn(new Browser(), web, u.email, 'Reset-Pass-1');

    const second = await forgotPasswordLink(h, u.email);
    await h.app.services.db('password_reset_tokens').whereNull('used_at').update({ expires_at: now() - 1 });
    expect(await resetThroughLink(second, 'Reset-Pass-3')).toMatchObject({ accepted: false });
    const stored = await h.app.services.db('password_reset_tokens').pluck('token_hash');
    expect(stored.every((t: string) => /^[0-9a-f]{64}$/.test(t) && !link.includes(t))).toBe(true);
  });

  it('a refused password leaves the link usable', async () => {
    await setPolicy({ minAgeHours: 0 });
    const u = await user();
    const link = await forgotPasswordLink(h, u.email);
    expect(await resetThroughLink(link, 'short')).toMatchObject({ accepted: false, errors: expect.arrayContaining(['Use at least 8 characters.']) });
    expect(await resetThroughLink(link, 'Good-Enough-9')).toEqual({ accepted: true, errors: [] });
  });

  it('answers the same for an unknown address and sends nothing; throttles per address and per network', async () => {
    const browser = new Browser();
    const form = await browser.page(`${h.running.issuer}/password/forgot`);
    const before = h.smtp.received.length;
    const unknown = await pageOf(await browser.submit(form, 'form[action="/password/forgot"]', { email: 'nobody@initech.example' }), form.url);
    const u = await user();
    const known = await pageOf(await browser.submit(form, 'form[action="/password/forgot"]', { email: u.email }), form.url);
    expect(unknown.status).toBe(200);
    expect(known.status).toBe(200);
    const text = (p: typeof known) => p.doc.querySelector('.lead')!.text.replace(/\S+@initech\.example/, 'X');
    expect(text(unknown)).toBe(text(known));
    await h.smtp.waitFor((m) => m.to === u.email, before);
    expect(h.smtp.received.slice(before).map((m) => m.to)).toEqual([u.email]);

    // 3 per address per hour (this harness): the 4th gets the same page and no mail.
    for (let i = 0; i < 3; i++) await browser.submit(form, 'form[action="/password/forgot"]', { email: u.email });
    const resets = () => h.smtp.to(u.email).filter((m) => m.subject.includes('Reset'));
    // The mail is sent after the answer: wait for the three allowed ones, then a moment more for a fourth that must not come.
    for (let waited = 0; resets().length < 3 && waited < 10000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(resets()).toHaveLength(3);
    // 4 × 3 per network per hour: the network's budget runs out next, and that is said plainly.
    let last = 200;
    for (let i = 0; i < 12 && last === 200; i++) last = (await browser.submit(form, 'form[action="/password/forgot"]', { email: `x${i}@initech.example` })).status;
    expect(last).toBe(429);
  });

  it('refuses a forgot-password form without its CSRF token', async () => {
    const res = await new Browser().request(`${h.running.issuer}/password/forgot`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=a%40initech.example&csrf=forged',
    });
    expect(res.status).toBe(403);
  });
});

describe('after a password change', () => {
  it('other sessions and refresh tokens end, the current session stays, and the user is told by email', async () => {
    await setPolicy({ minAgeHours: 0 });
    const u = await user();
    const phone = new Browser();
    const { tokens } = await signIn(phone, web, u.email, u.password);
    const laptop = new Browser();
    await signIn(laptop, web, u.email, u.password);
    const before = h.smtp.to(u.email).length;

    expect(await changeOnAccountPage(laptop, u.password, 'After-Change-1')).toEqual({ accepted: true, errors: [] });
    await expect(client.refreshTokenGrant(web.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await phone.request(`${h.running.issuer}/account/security`)).status).toBe(401);
    expect((await laptop.request(`${h.running.issuer}/account/security`)).status).toBe(200);
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('was changed'), 0);
    expect(h.smtp.to(u.email).length).toBeGreaterThan(before);
    expect(mail.text).toContain('signed out everywhere else');
    expect(mail.text).not.toContain('After-Change-1');
  });

  it('an admin can require a new password at the next sign-in', async () => {
    await setPolicy({ minAgeHours: 24 });
    const u = await user();
    const res = await h.api('POST', `/users/${u.id}/password-reset`, { requireChangeAtNextSignIn: true });
    expect(res).toMatchObject({ status: 202, body: { emailedTo: u.email, requireChangeAtNextSignIn: true } });
    expect((await h.api('GET', `/users/${u.id}`)).body.mustChangePassword).toBe(true);
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const sub = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: u.password });
    const page = await browser.page(new URL(sub.headers.get('location')!, started.loginPage.url).href);
    expect(page.html).toContain('Your administrator asks you to choose a new password');
    // Admin-forced changes are exempt from the minimum age.
    expect(await submitNewPassword(browser, page, 'form[action$="/change-password"]', 'Admin-Made-3')).toEqual({ accepted: true, errors: [] });
    expect((await h.api('GET', `/users/${u.id}`)).body.mustChangePassword).toBe(false);
  });
});
