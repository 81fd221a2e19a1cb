/**
 * Second-factor rules that no earlier test pinned down: an enrolled user is asked whatever the policy,
 * the second factor comes before a forced password change, recovery codes are stored only as digests,
 * and a TOTP guesser cannot buy a fresh budget by entering the password again.
 */
import { jest } from '@jest/globals';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { registerClient, startSignIn, type TestClient } from '../helpers/oidc.js';
import { organizationWithDomain, createUser, putPolicy, expectStatus } from '../helpers/setup.js';
import { submitNewPassword } from '../helpers/password-flows.js';
import { afterPassword, enrollThroughPages, land, nextStepCode, stepOf, submitCode, wrongCode } from '../helpers/two-factor.js';

const PASSWORD = 'Bite-Second-1';
const DAY = 86400;
let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;

jest.setTimeout(120_000); // each test signs in several times (argon2) on a shared machine

beforeAll(async () => {
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'Second Step', 'second.example');
});
afterAll(() => h.stop());

const ENFORCED = { authentication: { enforce2fa: true }, password: { minAgeHours: 0 } };

/** A user on the organization's domain, enrolled through the pages while the policy enforced 2FA. */
async function enrolledUser() {
  await putPolicy(h, orgId, ENFORCED);
  const email = `u${++n}@second.example`;
  const id = await createUser(h, email, PASSWORD);
  const { secret, codes } = await enrollThroughPages(web, email, PASSWORD);
  return { email, id, secret, codes };
}

describe('an enrolled user is asked for the code', () => {
  it('even when the governing policy does not enforce two-step verification', async () => {
    const u = await enrolledUser();
    await putPolicy(h, orgId, { authentication: { enforce2fa: false }, password: { minAgeHours: 0 } });
    expect((await h.api('GET', `/users/${u.id}/effective-policy`)).body.policy.authentication.enforce2fa).toBe(false);

    const browser = new Browser();
    const landing = await afterPassword(browser, web, u.email, PASSWORD);
    expect(stepOf(landing)).toBe('totp'); // the password alone gets no code for the client
    const passed = await submitCode(browser, landing.page!, 'totp', await nextStepCode(u.secret));
    expect(passed.status).toBe(303);
    const done = await land(browser, passed.res!, landing.page!.url);
    expect(stepOf(done)).toBe('callback');
    const tokens = await client.authorizationCodeGrant(web.config, new URL(done.callback!), {
      pkceCodeVerifier: landing.started.verifier,
      expectedState: landing.started.state,
    });
    expect(decodeJwt(tokens.id_token!).amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('and under the baseline, once the domain claim that enforced it is gone', async () => {
    const other = await organizationWithDomain(h, 'Gone Co', 'gone.example');
    await putPolicy(h, other, ENFORCED);
    const email = 'left@gone.example';
    await createUser(h, email, PASSWORD);
    const { secret } = await enrollThroughPages(web, email, PASSWORD);
    expectStatus('revoke gone.example', await h.api('DELETE', `/organizations/${other}/domains/gone.example`), 200);
    const governed = (await h.api('GET', `/users?email=${email}`)).body.items[0];
    expect((await h.api('GET', `/users/${governed.id}/effective-policy`)).body.source).toBe('baseline');

    const browser = new Browser();
    const landing = await afterPassword(browser, web, email, PASSWORD);
    expect(stepOf(landing)).toBe('totp');
    expect((await submitCode(browser, landing.page!, 'totp', await nextStepCode(secret))).status).toBe(303);
  });
});

describe('order of the sign-in steps', () => {
  it('an expired password is changed only after the second factor passed', async () => {
    const u = await enrolledUser();
    await putPolicy(h, orgId, { ...ENFORCED, password: { minAgeHours: 0, expirationDays: 90 } });
    await h.app.services.db('accounts').where({ id: u.id }).update({ password_changed_at: Math.floor(Date.now() / 1000) - 91 * DAY });

    const browser = new Browser();
    const landing = await afterPassword(browser, web, u.email, PASSWORD);
    expect(stepOf(landing)).toBe('totp'); // not the change-password page: the password alone proves too little
    const passed = await submitCode(browser, landing.page!, 'totp', await nextStepCode(u.secret));
    expect(passed.status).toBe(303);
    const change = await land(browser, passed.res!, landing.page!.url);
    expect(stepOf(change)).toBe('change-password');
    expect(change.page!.html).toContain('Your password has expired');
    expect(await submitNewPassword(browser, change.page!, 'form[action$="/change-password"]', 'Bite-Changed-2')).toEqual({ accepted: true, errors: [] });
  });

  it('so is a change an admin required', async () => {
    const u = await enrolledUser();
    expectStatus('admin reset', await h.api('POST', `/users/${u.id}/password-reset`, { requireChangeAtNextSignIn: true }), 202);
    const browser = new Browser();
    const landing = await afterPassword(browser, web, u.email, PASSWORD);
    expect(stepOf(landing)).toBe('totp');
    const passed = await submitCode(browser, landing.page!, 'totp', await nextStepCode(u.secret));
    expect(stepOf(await land(browser, passed.res!, landing.page!.url))).toBe('change-password');
  });
});

describe('recovery codes', () => {
  it('are stored as digests: no form of a shown code is in the table', async () => {
    const u = await enrolledUser();
    expect(u.codes).toHaveLength(10);
    const rows: Array<Record<string, unknown>> = await h.app.services.db('recovery_codes').where({ account_id: u.id });
    expect(rows).toHaveLength(10);
    const stored = JSON.stringify(rows).toUpperCase();
    for (const code of u.codes) {
      for (const form of [code, code.replace(/-/g, ''), ...code.split('-')]) expect(stored).not.toContain(form.toUpperCase());
    }
    for (const row of rows) expect(row.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(rows.map((r) => r.code_hash)).size).toBe(10);
  });
});

describe('the lockout budget of a TOTP guesser', () => {
  it('does not start afresh when the password is entered again: 5 wrong codes in all lock the account', async () => {
    const u = await enrolledUser();
    const wrong = await wrongCode(u.secret);

    const first = new Browser();
    const a = await afterPassword(first, web, u.email, PASSWORD);
    expect(stepOf(a)).toBe('totp');
    for (let i = 0; i < 3; i++) expect((await submitCode(first, a.page!, 'totp', wrong)).status).toBe(401);

    // The guesser knows the password and signs in again for a new TOTP page.
    const second = new Browser();
    const b = await afterPassword(second, web, u.email, PASSWORD);
    expect(stepOf(b)).toBe('totp');
    for (let i = 0; i < 2; i++) expect((await submitCode(second, b.page!, 'totp', wrong)).status).toBe(401);

    // Five failures in all: even the right code, and the right password, are refused now.
    const refused = await submitCode(second, b.page!, 'totp', await nextStepCode(u.secret));
    expect(refused.status).toBe(429);
    expect(errorsOn(refused.page!)).toEqual([expect.stringMatching(/^Too many failed sign-ins\. Try again in \d+ minutes?, or reset your password\.$/)]);
    expect((await h.api('GET', `/users/${u.id}`)).body.lockedUntil).toEqual(expect.any(String));
    const third = new Browser();
    const { loginPage } = await startSignIn(third, web);
    expect((await third.submit(loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD })).status).toBe(429);
  });

  it('four wrong codes, the password again, one more wrong code: locked', async () => {
    const u = await enrolledUser();
    const wrong = await wrongCode(u.secret);
    const first = new Browser();
    const a = await afterPassword(first, web, u.email, PASSWORD);
    for (let i = 0; i < 4; i++) expect((await submitCode(first, a.page!, 'totp', wrong)).status).toBe(401);
    const second = new Browser();
    const b = await afterPassword(second, web, u.email, PASSWORD);
    expect(stepOf(b)).toBe('totp');
    expect((await submitCode(second, b.page!, 'totp', wrong)).status).toBe(401);
    expect((await submitCode(second, b.page!, 'totp', await nextStepCode(u.secret))).status).toBe(429);
  });
});
