import { jest } from '@jest/globals';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';

/**
 * Item 8: the account page's current-password check is no oracle. It counts on the sign-in lockout
 * counter, and until a change is allowed (minimum age) a right and a wrong current password read the same.
 */
const PASSWORD = 'Account-Pass-1';
const INCORRECT = 'Your current password is not correct.';
const LOCKED_HERE = 'Too many failed attempts. Try again later, or reset your password.';
const SIGN_IN_LOCKED = expect.stringMatching(/^Too many failed sign-ins\. Try again in \d+ minutes?, or reset your password\.$/);

// Many sign-ins through argon2 on a shared machine.
jest.setTimeout(120_000);
let h: AdminHarness;
let web: TestClient;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
});
afterAll(() => h.stop());

/** A baseline account (minimum age 24 h); `aged` puts its last change two days back, so a change is allowed. */
async function user(aged: boolean) {
  const email = `acct${++n}@example.org`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  if (aged) await h.app.services.db('accounts').where({ id: res.body.id }).update({ password_changed_at: Math.floor(Date.now() / 1000) - 2 * 86400 });
  const browser = new Browser();
  await signIn(browser, web, email, PASSWORD);
  return { email, id: res.body.id as string, browser };
}

/** One submission of the account page's change form; the status and the errors shown. */
async function change(browser: Browser, currentPassword: string, newPassword = 'Brand-New-Pass-9') {
  const page = await browser.page(`${h.running.issuer}/account/security`);
  expect(page.status).toBe(200);
  const res = await browser.submit(page, 'form[action="/account/password"]', { currentPassword, newPassword, confirmPassword: newPassword });
  if (res.status === 303) return { status: 303, errors: [] as string[] };
  return { status: res.status, errors: errorsOn(await pageOf(res, page.url)) };
}

async function signInAnswer(email: string, password: string) {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
  if (res.status === 303) return { status: 303, errors: [] as string[] };
  return { status: res.status, errors: errorsOn(await pageOf(res, loginPage.url)) };
}

describe('account page: current-password checks count toward the lockout', () => {
  it('5 wrong current passwords lock the account: the page and sign-in refuse even the right password', async () => {
    const u = await user(true);
    for (let i = 0; i < 5; i++) expect(await change(u.browser, `Wrong-Pass-${i}`)).toEqual({ status: 400, errors: [INCORRECT] });
    expect(await change(u.browser, PASSWORD)).toEqual({ status: 429, errors: [LOCKED_HERE] });
    expect(await signInAnswer(u.email, PASSWORD)).toEqual({ status: 429, errors: [SIGN_IN_LOCKED] });
    expect((await h.api('GET', `/users/${u.id}`)).body.lockedUntil).toEqual(expect.any(String));
  });

  it('shares the sign-in counter: failures on either add up', async () => {
    const u = await user(true);
    for (let i = 0; i < 3; i++) expect((await signInAnswer(u.email, 'Wrong-Pass-x')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await change(u.browser, 'Wrong-Pass-y')).status).toBe(400);
    expect((await signInAnswer(u.email, PASSWORD)).status).toBe(429);
  });

  it('counts atomically: 20 parallel wrong current passwords check the hash 5 times', async () => {
    const u = await user(true);
    const page = await u.browser.page(`${h.running.issuer}/account/security`);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        u.browser.submit(page, 'form[action="/account/password"]', { currentPassword: 'Wrong-Pass-1', newPassword: 'Brand-New-Pass-9', confirmPassword: 'Brand-New-Pass-9' }),
      ),
    );
    expect(results.filter((r) => r.status === 400)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
  });

  it('a right current password with a new password that breaks the rules gives its attempt back', async () => {
    const u = await user(true);
    for (let i = 0; i < 4; i++) expect((await change(u.browser, 'Wrong-Pass-z')).status).toBe(400);
    expect((await change(u.browser, PASSWORD, 'short')).status).toBe(400);
    expect((await change(u.browser, PASSWORD)).status).toBe(303); // changed: the count is cleared
    expect((await signInAnswer(u.email, 'Brand-New-Pass-9')).status).toBe(303);
  });
});

describe('account page: no password oracle before a change is allowed', () => {
  it('within the minimum age, right and wrong current passwords get the same answer, and nothing is counted', async () => {
    const u = await user(false);
    const right = await change(u.browser, PASSWORD);
    const wrongs = [];
    for (let i = 0; i < 6; i++) wrongs.push(await change(u.browser, `Wrong-Pass-${i}`));
    expect(right.status).toBe(400);
    expect(right.errors).toEqual([expect.stringMatching(/^You changed your password recently\. You can change it again after /)]);
    for (const w of wrongs) expect(w).toEqual(right);
    // No hash was checked, so no attempt was counted: the right password still signs in.
    expect((await signInAnswer(u.email, PASSWORD)).status).toBe(303);
  });
});
