import { generate } from 'otplib';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { clock } from '../helpers/clock.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';
import { organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { enrollThroughPages, nextStepCode } from '../helpers/two-factor.js';
import { safeNext } from '../../src/interaction/account/confirm.js';
import { passkey } from '../stores/factor-store.contract.js';

/**
 * The account center's overview, sign-in methods and re-authentication gate through real HTTP and the
 * real forms: what the overview says of the governing policy, the authenticator app set up and removed
 * on /account/security, new recovery codes, and the gate at /account/confirm (password or a factor,
 * counted toward the lockout, never an open redirect).
 */
const PASSWORD = 'Methods-Pass-1';
let h: AdminHarness;
let web: TestClient;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
  const strict = await organizationWithDomain(h, 'Acme', 'acme.example');
  await putPolicy(h, strict, { authentication: { enforce2fa: true }, password: { expirationDays: 90, minAgeHours: 0 }, login: { ipWhitelist: { enabled: true, cidrs: ['127.0.0.0/8', '::1/128'] } } });
  const loose = await organizationWithDomain(h, 'Loose', 'loose.example');
  await putPolicy(h, loose, { password: { minAgeHours: 24 } });
});
afterAll(() => h.stop());

async function user(domain = 'example.org') {
  const email = `m${++n}@${domain}`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** A baseline user signed in just now (no second factor: the password alone signs in). */
async function signedIn(domain?: string) {
  const u = await user(domain);
  const browser = new Browser();
  await signIn(browser, web, u.email, PASSWORD);
  return { ...u, browser };
}

const security = (b: Browser) => b.page(`${h.running.issuer}/account/security`);
const text = (p: Page) => p.doc.querySelector('main')!.text.replace(/\s+/g, ' ');
const passwordChangedAt = async (id: string) => (await h.app.services.accounts.findById(id))!.passwordChangedAt;
const audit = async (accountId: string, type: string) =>
  (await h.app.services.db('audit_events').where({ type, target_id: accountId })) as Array<{ data: string }>;

/** Posts a form and follows a 303 to its page; a page answered in place is returned as it is. */
async function post(b: Browser, page: Page, selector: string, fields: Record<string, string> = {}) {
  const res = await b.submit(page, selector, fields);
  if (res.status === 303) {
    const location = new URL(res.headers.get('location')!, page.url).href;
    return { status: 303, location, page: await b.page(location) };
  }
  return { status: res.status, location: undefined, page: await pageOf(res, page.url) };
}

/** Sets up an authenticator app on the account page; returns its seed and the page after. */
async function addApp(b: Browser) {
  const started = await post(b, await security(b), 'form[action="/account/totp/start"]');
  expect(started.status).toBe(303);
  const key = started.page.doc.querySelector('code.key')!;
  const secret = key.text.replace(/\s/g, '');
  const confirmed = await post(b, started.page, 'form[action="/account/totp/confirm"]', { code: await generate({ secret }) });
  return { secret, started: started.page, confirmed };
}

describe('/account: the overview says which rules govern the account, in plain words', () => {
  it("a baseline user: Gatehouse's default rules, the password rules, any network; links to the sections", async () => {
    const u = await signedIn();
    const page = await u.browser.page(`${h.running.issuer}/account`);
    expect(page.status).toBe(200);
    const said = text(page);
    expect(said).toContain(u.email);
    expect(said).toContain("Gatehouse's default rules apply to your account.");
    expect(said).toContain('Two-step verification is optional.');
    expect(said).toContain('Passwords have 8 to 24 characters.');
    expect(said).toContain('You can sign in from any network.');
    for (const href of ['/account/security', '/account/sessions', '/account/activity']) expect(page.doc.querySelector(`main a[href="${href}"]`)).not.toBeNull();
  });

  it('an organization requiring two-step verification and a new password every 90 days: says so, with the expiry as a local <time>', async () => {
    const u = await user('acme.example');
    const changedAt = await passwordChangedAt(u.id);
    // Enforcement: enroll through the sign-in pages, then look at the overview in that browser.
    const { browser: b } = await enrollThroughPages(web, u.email, PASSWORD);
    const page = await b.page(`${h.running.issuer}/account`);
    const said = text(page);
    expect(said).toMatch(/Your organization acme\.example requires two-step verification and a new password every 90 days; yours expires on .+\./);
    const expires = new Date((changedAt + 90 * 86400) * 1000).toISOString();
    expect(page.html).toContain(`<time datetime="${expires}" data-local="date-time">`);
    expect(said).toContain('Two-step verification is required, and yours is set up.');
    expect(said).toContain('You can sign in only from the networks your organization allows.');

    const vi = await b.page(`${h.running.issuer}/account?lang=vi`);
    expect(text(vi)).toContain('Tổ chức acme.example của bạn yêu cầu xác minh hai bước và đổi mật khẩu mới sau mỗi 90 ngày');
  });
});

describe('/account/security: the password with its rules up front', () => {
  it('lists the rules and, within the minimum age, when the password can be changed again (a local <time>)', async () => {
    const u = await signedIn('loose.example');
    const page = await security(u.browser);
    expect(page.status).toBe(200);
    expect(text(page)).toContain('These rules are set by your organization loose.example.');
    expect(page.doc.querySelectorAll('#password-rules li').length).toBeGreaterThan(2);
    const changedAt = await passwordChangedAt(u.id);
    const again = new Date((changedAt + 24 * 3600) * 1000).toISOString();
    expect(page.doc.querySelector('#password')!.innerHTML).toContain(`You can change it again on <time datetime="${again}" data-local="date-time">`);
    expect(page.headers.get('cache-control')).toBe('no-store');
  });
});

describe('/account/security: the authenticator app and recovery codes', () => {
  it('sets up an app on the page (QR code, otpauth:// link, key in blocks of 4), shows recovery codes once, audits and mails; removes it', async () => {
    const u = await signedIn();
    const before = h.smtp.received.length;
    const start = await post(u.browser, await security(u.browser), 'form[action="/account/totp/start"]');
    expect(start.location).toBe(`${h.running.issuer}/account/security#authenticator`);
    const page = start.page;
    expect(page.doc.querySelector('.qr img')!.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(page.doc.querySelector('a[href^="otpauth://totp/"]')).not.toBeNull();
    const blocks = page.doc.querySelectorAll('code.key span').map((s) => s.text);
    expect(blocks.length).toBeGreaterThan(3);
    expect(blocks.slice(0, -1).every((b) => b.length === 4)).toBe(true);
    const secret = blocks.join('');

    const wrong = await post(u.browser, page, 'form[action="/account/totp/confirm"]', { code: '000000' === (await generate({ secret })) ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(errorsOn(wrong.page)).toEqual(['That code does not match. Check the time on your phone and try again.']);

    const done = await post(u.browser, page, 'form[action="/account/totp/confirm"]', { code: await generate({ secret }) });
    expect(done.status).toBe(200);
    const codes = done.page.doc.querySelectorAll('ul.codes code').map((c) => c.text);
    expect(codes).toHaveLength(10);
    expect(text(done.page)).toContain('You have 10 unused recovery codes.');
    expect((await h.app.services.twoFactor.list(u.id)).map((f) => f.kind)).toEqual(['totp']);
    expect(await audit(u.id, 'two_factor.enrolled')).toHaveLength(1);
    await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('Two-step verification was turned on'), before);

    // Shown once: the page again has no codes and no enrollment.
    const again = await security(u.browser);
    expect(again.doc.querySelectorAll('ul.codes code')).toHaveLength(0);
    expect(again.doc.querySelector('form[action="/account/totp/start"]')).toBeNull();

    const removed = await post(u.browser, again, 'form[action="/account/totp/remove"]');
    expect(removed.location).toBe(`${h.running.issuer}/account/security?done=totp-removed#sign-in-methods`);
    expect(text(removed.page)).toContain('Authenticator app removed.');
    expect(await h.app.services.twoFactor.list(u.id)).toEqual([]);
    expect(await audit(u.id, 'two_factor.removed')).toHaveLength(1);
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('An authenticator app was removed'), before);
    expect(mail.text).toMatch(/was removed on .+ UTC\.[\s\S]*This was done from the address /);
  });

  it('beside a passkey: the app joins it and the recovery codes stay; an enrollment outlived by a change of factors is refused', async () => {
    const u = await signedIn();
    // A passkey already there (stored directly: its ceremony is the Chromium tests' business), with its codes.
    expect(await h.app.services.factorStore.add(passkey(u.id))).toBe(true);
    await h.app.services.twoFactor.issueRecoveryCodes(u.id);
    const { confirmed } = await addApp(u.browser);
    expect(confirmed.location).toBe(`${h.running.issuer}/account/security?done=totp-added#sign-in-methods`);
    expect(confirmed.page.doc.querySelectorAll('ul.codes code')).toHaveLength(0);
    expect((await h.app.services.twoFactor.list(u.id)).map((f) => f.kind).sort()).toEqual(['passkey', 'totp']);
    expect(await h.app.services.twoFactor.recoveryCodesLeft(u.id)).toBe(10);

    const v = await signedIn();
    const started = await post(v.browser, await security(v.browser), 'form[action="/account/totp/start"]');
    const secret = started.page.doc.querySelector('code.key')!.text.replace(/\s/g, '');
    expect(await h.app.services.factorStore.add(passkey(v.id))).toBe(true); // meanwhile, elsewhere
    const late = await post(v.browser, started.page, 'form[action="/account/totp/confirm"]', { code: await generate({ secret }) });
    expect(late.status).toBe(409);
    expect(errorsOn(late.page)).toEqual(['Your sign-in methods changed while you were setting up the app, perhaps in another window. Start again.']);
    expect((await h.app.services.twoFactor.list(v.id)).map((f) => f.kind)).toEqual(['passkey']);
  });

  it('under enforcement the last factor stays: no Remove button, and a forced POST is refused (409)', async () => {
    const u = await user('acme.example');
    const { browser: b } = await enrollThroughPages(web, u.email, PASSWORD);
    const page = await security(b);
    expect(page.doc.querySelector('form[action="/account/totp/remove"]')).toBeNull();
    expect(text(page)).toContain('add a passkey before you remove the authenticator app');
    const csrf = page.doc.querySelector('input[name=csrf]')!.getAttribute('value')!;
    const res = await b.request(`${h.running.issuer}/account/totp/remove`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }).toString() });
    expect(res.status).toBe(409);
    expect(await h.app.services.twoFactor.list(u.id)).toHaveLength(1);
  });

  it('"Generate new codes": the old set stops working at once, the new one is shown once; audited and mailed', async () => {
    const u = await signedIn();
    const first = (await addApp(u.browser)).confirmed.page.doc.querySelectorAll('ul.codes code').map((c) => c.text);
    const account = (await h.app.services.accounts.findById(u.id))!;
    expect(await h.app.services.twoFactor.verify(account, first[0]!, {} as never)).toBe('ok');
    const page = await security(u.browser);
    expect(text(page)).toContain('You have 9 unused recovery codes.');
    const before = h.smtp.received.length;
    const renewed = await post(u.browser, page, 'form[action="/account/recovery-codes"]');
    expect(renewed.status).toBe(200);
    expect(renewed.page.headers.get('cache-control')).toBe('no-store');
    const fresh = renewed.page.doc.querySelectorAll('ul.codes code').map((c) => c.text);
    expect(fresh).toHaveLength(10);
    expect(fresh.some((c) => first.includes(c))).toBe(false);
    expect(await h.app.services.twoFactor.verify(account, first[1]!, {} as never)).toBe('invalid');
    expect(await h.app.services.twoFactor.verify(account, fresh[0]!, {} as never)).toBe('ok');
    expect(await audit(u.id, 'two_factor.recovery_codes_renewed')).toHaveLength(1);
    const mail = await h.smtp.waitFor((m) => m.to === u.email && m.subject.includes('New recovery codes were made'), before);
    expect(mail.text).toContain('The earlier codes no longer work.');
  });
});

describe('the re-authentication gate (/account/confirm)', () => {
  afterEach(() => clock.uninstall());

  it('a sign-in older than 5 minutes is sent to confirm; a wrong password counts (401), the right one returns to the page and allows the change', async () => {
    const u = await signedIn();
    clock.install();
    clock.advance(6 * 60);
    const page = await security(u.browser);
    expect(page.doc.querySelector('form[action="/account/totp/start"]')).toBeNull();
    expect(page.doc.querySelector(`a[href="/account/confirm?next=%2Faccount%2Fsecurity"]`)).not.toBeNull();
    // Forged without the button: refused, sent to the gate.
    const csrf = page.doc.querySelector('input[name=csrf]')!.getAttribute('value')!;
    const forced = await u.browser.request(`${h.running.issuer}/account/totp/start`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${csrf}` });
    expect(forced.status).toBe(303);
    expect(forced.headers.get('location')).toBe('/account/confirm?next=%2Faccount%2Fsecurity');

    const gate = await u.browser.page(`${h.running.issuer}/account/confirm?next=%2Faccount%2Fsecurity`);
    expect(gate.status).toBe(200);
    expect(gate.doc.querySelector('#confirm-by-code')).toBeNull(); // no factor: the password only
    const wrong = await post(u.browser, gate, '#confirm-by-password', { currentPassword: 'Wrong-Pass-1' });
    expect(wrong.status).toBe(401);
    expect(errorsOn(wrong.page)).toEqual(['That password is not right.']);
    expect((await audit(u.id, 'account.reauthentication_failed')).map((e) => JSON.parse(e.data))).toEqual([{ method: 'password', reason: 'invalid' }]);

    const right = await post(u.browser, gate, 'form[action="/account/confirm"]', { currentPassword: PASSWORD });
    expect(right.location).toBe(`${h.running.issuer}/account/security?done=confirmed#sign-in-methods`);
    expect(text(right.page)).toContain('Confirmed. For the next 5 minutes you can change your sign-in methods.');
    expect(right.page.doc.querySelector('form[action="/account/totp/start"]')).not.toBeNull();
    expect(await audit(u.id, 'account.reauthenticated')).toHaveLength(1);

    // The confirmation itself lasts 5 minutes.
    clock.advance(6 * 60);
    expect((await security(u.browser)).doc.querySelector('form[action="/account/totp/start"]')).toBeNull();
  });

  it('confirms with an authenticator code or a recovery code (used up); a wrong one counts', async () => {
    const u = await signedIn();
    const { secret, confirmed } = await addApp(u.browser);
    const codes = confirmed.page.doc.querySelectorAll('ul.codes code').map((c) => c.text);
    clock.install();
    clock.advance(6 * 60);
    const gate = await u.browser.page(`${h.running.issuer}/account/confirm?next=/account/sessions`);
    const codeForm = '#confirm-by-code';
    const bad = await u.browser.submit(gate, codeForm, { code: 'AAAAA-AAAAA' });
    expect(bad.status).toBe(401);
    const byApp = await u.browser.submit(gate, codeForm, { code: await nextStepCode(secret) });
    expect(byApp.status).toBe(303);
    expect(byApp.headers.get('location')).toBe('/account/sessions');

    clock.advance(6 * 60);
    const gate2 = await u.browser.page(`${h.running.issuer}/account/confirm`);
    const byRecovery = await u.browser.submit(gate2, codeForm, { code: codes[0]!.toLowerCase() });
    expect(byRecovery.headers.get('location')).toBe('/account/security?done=confirmed#sign-in-methods');
    expect(await h.app.services.twoFactor.recoveryCodesLeft(u.id)).toBe(9);
    expect((await audit(u.id, 'account.reauthenticated')).map((e) => JSON.parse(e.data).method)).toEqual(['code', 'code']);
  });

  it('failed confirmations lock the account like failed sign-ins', async () => {
    const u = await signedIn();
    clock.install();
    clock.advance(6 * 60);
    const gate = await u.browser.page(`${h.running.issuer}/account/confirm`);
    for (let i = 0; i < 5; i++) expect((await u.browser.submit(gate, 'form[action="/account/confirm"]', { currentPassword: `Wrong-${i}` })).status).toBe(401);
    const locked = await post(u.browser, gate, 'form[action="/account/confirm"]', { currentPassword: PASSWORD });
    expect(locked.status).toBe(429);
    expect(errorsOn(locked.page)).toEqual(['Too many failed attempts. Try again later.']);
    const other = new Browser();
    const { loginPage } = await startSignIn(other, web);
    expect((await other.submit(loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD })).status).toBe(429);
  });

  it('returns only to an /account page of this site: never an open redirect', async () => {
    const u = await signedIn();
    const hostile = ['https://evil.example/', '//evil.example/account', '/\\evil.example', '/account/../admin', '/accounting', '/account//evil.example', '/account?x=https://evil.example', 'javascript:alert(1)', '/account/%2e%2e/admin'];
    for (const next of hostile) expect([next, safeNext(next)]).toEqual([next, '/account/security']);
    expect(safeNext('/account/sessions')).toBe('/account/sessions');
    expect(safeNext('/account')).toBe('/account');
    expect(safeNext(['/account/sessions'])).toBe('/account/security');
    for (const next of hostile) {
      const gate = await u.browser.page(`${h.running.issuer}/account/confirm?next=${encodeURIComponent(next)}`);
      expect(gate.doc.querySelector('input[name=next]')!.getAttribute('value')).toBe('/account/security');
      const res = await u.browser.submit(gate, 'form[action="/account/confirm"]', { currentPassword: PASSWORD, next });
      expect([next, res.status, res.headers.get('location')]).toEqual([next, 303, '/account/security?done=confirmed#sign-in-methods']);
    }
  });

  it('refuses a form without its CSRF token and a visitor who is not signed in', async () => {
    const u = await signedIn();
    const res = await u.browser.request(`${h.running.issuer}/account/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `currentPassword=${PASSWORD}&next=/account/sessions` });
    expect(res.status).toBe(403);
    expect(await audit(u.id, 'account.reauthenticated')).toEqual([]);
    expect((await new Browser().request(`${h.running.issuer}/account/confirm`)).status).toBe(401);
  });
});
