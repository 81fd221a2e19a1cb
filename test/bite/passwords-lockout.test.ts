/**
 * Two password rules that had no test: the history table never holds more than ten hashes per account
 * (and historyCount 10 still refuses the tenth-last password), and a lock lasts exactly LOCKOUT_MINUTES.
 *
 * Time: only `Date` is faked for the lockout test (timers, I/O and argon2 run for real). Gatehouse runs in
 * this process and takes "now" from Date.now(), so moving the fake clock past the stored lock end is the
 * passage of time as the server sees it; nothing in the database is touched.
 */
import { jest } from '@jest/globals';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { registerClient, RP, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { clock } from '../helpers/clock.js';

const LOCKOUT_MINUTES = 7; // not the default (15), so the setting is what is measured
let h: AdminHarness;
let web: TestClient;
let orgId: string;

jest.setTimeout(240_000);

beforeAll(async () => {
  h = await startAdminHarness({ LOCKOUT_MINUTES: String(LOCKOUT_MINUTES) });
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'History Co', 'history.example');
});
afterAll(async () => {
  jest.useRealTimers();
  await h.stop();
});

describe('password history', () => {
  it('keeps at most 10 hashes per account through 12 changes; historyCount 10 refuses the 10th-last, not the 11th-last', async () => {
    await putPolicy(h, orgId, { password: { historyCount: 10, minAgeHours: 0 } });
    const passwords = Array.from({ length: 13 }, (_, i) => `History-Pass-${i}`);
    const id = await createUser(h, 'rotator@history.example', passwords[0]!);
    const kept = async () => Number((await h.app.services.db('password_history').where({ account_id: id }).count({ n: '*' }).first())!.n);
    const change = async (newPassword: string) =>
      h.app.services.passwordChanges.change({ account: await h.app.services.accounts.get(id), newPassword, kind: 'reset', actor: { type: 'user', id } });

    for (const next of passwords.slice(1)) {
      expect(await change(next)).toEqual({ ok: true });
      expect(await kept()).toBeLessThanOrEqual(10);
    }
    expect(await kept()).toBe(10);

    // Current: #12. The last ten are #12 … #3; #3 is the tenth-last and is refused, #2 has dropped out.
    const refused = await change(passwords[3]!);
    expect(refused).toMatchObject({ ok: false, errors: [{ field: 'newPassword', code: 'password.reused' }] });
    expect(await change(passwords[2]!)).toEqual({ ok: true });
    expect(await kept()).toBe(10);
  });
});

describe('lockout duration', () => {
  /** One password submission from a fresh sign-in: 303 (went on), 401 or 429 with the errors shown. */
  async function attempt(email: string, password: string) {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
    if (res.status === 303) {
      const next = await browser.follow(new URL(res.headers.get('location')!, loginPage.url).href, (u) => u.startsWith(RP));
      return { status: 303, reachedClient: 'redirectedTo' in next, errors: [] as string[] };
    }
    return { status: res.status, reachedClient: false, errors: errorsOn(await pageOf(res, loginPage.url)) };
  }

  it('a lock lasts LOCKOUT_MINUTES from the failure that caused it: locked just before, open just after', async () => {
    const email = 'locked@elsewhere.example';
    const id = await createUser(h, email, 'Right-Pass-7');
    clock.install();
    try {
      for (let i = 0; i < 4; i++) expect((await attempt(email, 'Wrong-Pass-7')).status).toBe(401);
      const before = Math.floor(Date.now() / 1000);
      expect((await attempt(email, 'Wrong-Pass-7')).status).toBe(401); // the fifth failure locks
      const after = Math.ceil(Date.now() / 1000);

      const lockedUntil = Date.parse((await h.api('GET', `/users/${id}`)).body.lockedUntil) / 1000;
      expect(lockedUntil).toBeGreaterThanOrEqual(before + LOCKOUT_MINUTES * 60);
      expect(lockedUntil).toBeLessThanOrEqual(after + LOCKOUT_MINUTES * 60);

      // 30 seconds before the end: still locked, even for the right password.
      clock.set(lockedUntil - 30);
      expect(await attempt(email, 'Right-Pass-7')).toEqual({ status: 429, reachedClient: false, errors: ['Too many failed sign-ins. Try again in 1 minute, or reset your password.'] });

      // Just past the end: the right password signs in.
      clock.set(lockedUntil + 1);
      expect(await attempt(email, 'Right-Pass-7')).toEqual({ status: 303, reachedClient: true, errors: [] });
      expect((await h.api('GET', `/users/${id}`)).body.lockedUntil).toBeNull();
    } finally {
      clock.uninstall();
    }
  });
});
