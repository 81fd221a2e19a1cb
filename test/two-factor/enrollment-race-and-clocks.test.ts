import { jest } from '@jest/globals';
import { generate } from 'otplib';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { clock } from '../helpers/clock.js';
import { registerClient, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';
import { chooseAuthenticatorApp, land } from '../helpers/two-factor.js';

/**
 * Item 9: an enrollment started earlier can never replace a factor confirmed later (nor one confirmed
 * and then reset), two confirmations cannot both win, and adding or removing a factor is mailed.
 * Item 10: codes are judged within two steps of this node's clock, and a last-used step beyond this
 * node's window (stored through a node whose clock is ahead) is a clear refusal, never a 500.
 */
const PASSWORD = 'Second-Step-1';
const SUPERSEDED = 'Two-step verification was set up or changed for this account in the meantime. This setup is no longer valid: sign in again.';
const BAD_CODE = 'That code is not valid. Check your app and try again.';
// Many sign-ins through argon2 on a shared machine.
jest.setTimeout(120_000);
let h: AdminHarness;
let web: TestClient;
let n = 0;

beforeAll(async () => {
  clock.install();
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
  const orgId = (await h.api('POST', '/organizations', { name: 'Race Co' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'race.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.race.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/race.example/verify`)).body.status).toBe('verified');
  const policy = await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { authentication: { enforce2fa: true }, password: { minAgeHours: 0 } } });
  expect(policy.status).toBe(200);
});
afterAll(async () => {
  await h.stop();
  clock.uninstall();
});

async function user() {
  const email = `r${++n}@race.example`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** Password step in a new browser; returns that browser and the page it lands on (enrollment or TOTP). */
async function afterPassword(email: string) {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: PASSWORD });
  expect(res.status).toBe(303);
  const next = await chooseAuthenticatorApp(browser, await land(browser, res, loginPage.url));
  if (!next.page) throw new Error('no second step');
  return { browser, page: next.page };
}

/** Opens the enrollment page in a new browser; returns the seed it shows. */
async function startEnrollment(email: string) {
  const { browser, page } = await afterPassword(email);
  expect(page.doc.querySelector('form[action$="/enroll-totp"]')).toBeTruthy();
  return { browser, page, secret: page.doc.querySelector('code.secret')!.text.replace(/\s/g, '') };
}

async function submit(browser: Browser, page: Page, selector: string, code: string) {
  const res = await browser.submit(page, selector, { code });
  if (res.status === 303) return { status: 303, errors: [] as string[], page: undefined };
  const answer = await pageOf(res, page.url);
  return { status: res.status, errors: errorsOn(answer).length ? errorsOn(answer) : [answer.doc.querySelector('p.lead')?.text.trim() ?? ''], page: answer };
}

const now = () => Math.floor(Date.now() / 1000);
const stepOf = (t: number) => Math.floor(t / 30);
const code = (secret: string, offsetSeconds = 0) => generate({ secret, epoch: now() + offsetSeconds });

/**
 * Before a code is made: when less than 10 s of the current 30-second step remain, moves the clock to
 * 5 s into the next one, so the code and the check that follows fall in the same step.
 */
function alignToStep() {
  const into = (Date.now() / 1000) % 30;
  if (into > 20 || into < 2) clock.advance(35 - into);
}

/** Confirms an enrollment page with a code of its seed, through the recovery-codes page to the client. */
async function confirm(e: { browser: Browser; page: Page; secret: string }, offsetSeconds = 0) {
  alignToStep();
  const shown = await submit(e.browser, e.page, 'form[action$="/enroll-totp"]', await code(e.secret, offsetSeconds));
  if (shown.status !== 200) return shown;
  expect(shown.page!.doc.querySelectorAll('ul.codes code')).toHaveLength(10);
  const done = await e.browser.submit(shown.page!, 'form[action$="/recovery-codes"]', {});
  expect(done.status).toBe(303);
  return shown;
}

/** A later sign-in with a TOTP code (offset: the phone's clock relative to this node's). */
async function signInWithCode(email: string, secret: string, offsetSeconds = 0) {
  const { browser, page } = await afterPassword(email);
  expect(page.doc.querySelector('form[action$="/totp"]')).toBeTruthy();
  alignToStep();
  return submit(browser, page, 'form[action$="/totp"]', await code(secret, offsetSeconds));
}

const mailsTo = (email: string, subject: string) => h.smtp.received.filter((m) => m.to === email && m.subject.includes(subject));

describe('second-factor enrollment cannot be replaced by an older one', () => {
  it('attacker starts first, victim confirms, attacker confirms later: refused; the victim keeps their app', async () => {
    alignToStep();
    const u = await user();
    const attacker = await startEnrollment(u.email);
    const victim = await startEnrollment(u.email);
    expect(attacker.secret).not.toBe(victim.secret);

    const before = h.smtp.received.length;
    expect((await confirm(victim)).status).toBe(200);
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('Two-step verification was turned on'), before);
    expect(mail.text).toContain(u.email);

    alignToStep();
    expect(await submit(attacker.browser, attacker.page, 'form[action$="/enroll-totp"]', await code(attacker.secret))).toMatchObject({ status: 409, errors: [SUPERSEDED] });
    expect(mailsTo(u.email, 'turned on')).toHaveLength(1);
    // Reloading the dead enrollment shows no seed.
    const reload = await attacker.browser.page(attacker.page.url);
    expect(reload.status).toBe(409);
    expect(reload.doc.querySelector('code.secret')).toBeNull();

    // The victim's app still works (a later step: the confirming step was used); the attacker's seed never does.
    clock.advance(30);
    expect((await signInWithCode(u.email, attacker.secret)).status).toBe(401);
    expect((await signInWithCode(u.email, victim.secret)).status).toBe(303);
  });

  it('an enrollment started before an admin reset dies with it; the reset is mailed', async () => {
    alignToStep();
    const u = await user();
    const attacker = await startEnrollment(u.email);
    const victim = await startEnrollment(u.email);
    expect((await confirm(victim)).status).toBe(200);

    const before = h.smtp.received.length;
    const reset = await h.api('POST', `/users/${u.id}/reset-2fa`);
    expect(reset.status).toBe(200);
    expect(reset.body.twoFactorEnabled).toBe(false);
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('Two-step verification was removed'), before);
    expect(mail.text).toContain('administrator');

    // No factor now, but the attacker's enrollment predates the reset: still refused.
    alignToStep();
    expect((await submit(attacker.browser, attacker.page, 'form[action$="/enroll-totp"]', await code(attacker.secret))).status).toBe(409);
    expect((await h.api('GET', `/users/${u.id}`)).body.twoFactorEnabled).toBe(false);
    // A fresh enrollment works.
    clock.advance(30);
    const again = await startEnrollment(u.email);
    expect((await confirm(again)).status).toBe(200);
  });

  it('two simultaneous confirmations: exactly one wins', async () => {
    alignToStep();
    const u = await user();
    const a = await startEnrollment(u.email);
    const b = await startEnrollment(u.email);
    alignToStep();
    const [ra, rb] = await Promise.all([
      a.browser.submit(a.page, 'form[action$="/enroll-totp"]', { code: await code(a.secret) }),
      b.browser.submit(b.page, 'form[action$="/enroll-totp"]', { code: await code(b.secret) }),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 409]);
    const winner = ra.status === 200 ? a : b;
    clock.advance(30);
    expect((await signInWithCode(u.email, winner.secret)).status).toBe(303);
    expect(mailsTo(u.email, 'turned on')).toHaveLength(1);
  });
});

describe('TOTP and clocks', () => {
  it('a last-used step beyond this node\'s window (stored through a node ahead) is a clear refusal, not a 500', async () => {
    alignToStep();
    const u = await user();
    const e = await startEnrollment(u.email);
    expect((await confirm(e)).status).toBe(200);
    await h.app.services.db('factors').where({ account_id: u.id, kind: 'totp' }).update({ last_step: stepOf(now()) + 3 });
    expect(await signInWithCode(u.email, e.secret)).toMatchObject({ status: 401, errors: [BAD_CODE] });
    expect(await signInWithCode(u.email, e.secret, 60)).toMatchObject({ status: 401, errors: [BAD_CODE] });
  });

  it('accepts codes from a phone (or node) a minute behind or ahead; refuses three steps off', async () => {
    alignToStep();
    const u = await user();
    const e = await startEnrollment(u.email);
    expect((await confirm(e)).status).toBe(200);
    // As for an account that enrolled a while ago.
    await h.app.services.db('factors').where({ account_id: u.id, kind: 'totp' }).update({ last_step: stepOf(now()) - 10 });
    expect((await signInWithCode(u.email, e.secret, -90)).status).toBe(401);
    expect((await signInWithCode(u.email, e.secret, -60)).status).toBe(303);
    expect((await signInWithCode(u.email, e.secret, 0)).status).toBe(303);
    expect((await signInWithCode(u.email, e.secret, 60)).status).toBe(303);
    expect((await signInWithCode(u.email, e.secret, 90)).status).toBe(401);
    // A step at or before the last used one is a replay.
    expect((await signInWithCode(u.email, e.secret, 30)).status).toBe(401);
  });
});
