import { generate } from 'otplib';
import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { registerClient, RP, RP_LOGGED_OUT, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf, submitNewPassword } from '../helpers/password-flows.js';
import { organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { chooseAuthenticatorApp, land } from '../helpers/two-factor.js';
import { inviteThroughApi } from '../helpers/invitations.js';
import { resetLinkIn } from '../helpers/smtp.js';
import { translator } from '../../src/i18n/index.js';

/**
 * The fixes to the sign-in pages (issue 10), each through the real pages: a wrong password, the lock,
 * recovery codes, TOTP enrollment, new passwords, forgot password, consent, logout, an expired sign-in.
 */
const PASSWORD = 'Fixed-Pages-1';
let h: AdminHarness;
let web: TestClient;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '100' });
  web = await registerClient(h.app, h.running.issuer);
  const plain = await organizationWithDomain(h, 'Plain', 'plain.example');
  await putPolicy(h, plain, { password: { minAgeHours: 0 } });
  const strict = await organizationWithDomain(h, 'Strict', 'strict.example');
  await putPolicy(h, strict, { authentication: { enforce2fa: true }, password: { minAgeHours: 0 } });
});
afterAll(() => h.stop());

async function user(domain = 'plain.example', extra: object = {}) {
  const email = `u${++n}@${domain}`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD, ...extra });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

async function submitPage(browser: Browser, page: Page, selector: string, fields: Record<string, string>) {
  const res = await browser.submit(page, selector, fields);
  return { res, page: await pageOf(res, page.url) };
}

/** Where a 303 leads: the next page of the sign-in, or the client's callback. */
async function next(browser: Browser, res: Response, from: string) {
  expect(res.status).toBe(303);
  return land(browser, res, from);
}

describe('the sign-in page after a wrong password', () => {
  it('keeps the email, focuses the password and says the one error as a sentence tied to both fields', async () => {
    const u = await user();
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    expect(loginPage.doc.querySelector('#email')!.hasAttribute('autofocus')).toBe(true);
    const { res, page } = await submitPage(browser, loginPage, 'form[action$="/password"]', { email: u.email, password: 'Wrong-Pass-1' });
    expect(res.status).toBe(401);
    expect(page.doc.querySelector('#email')!.getAttribute('value')).toBe(u.email);
    expect(page.doc.querySelector('#email')!.hasAttribute('autofocus')).toBe(false);
    expect(page.doc.querySelector('#password')!.hasAttribute('autofocus')).toBe(true);
    expect(page.doc.querySelector('#form-errors > p')!.text.trim()).toBe('Incorrect email or password.');
    expect(page.doc.querySelector('#form-errors ul')).toBeNull();
    for (const id of ['email', 'password']) expect(page.doc.querySelector(`#${id}`)!.getAttribute('aria-describedby')).toBe('form-errors');
  });

  it('without an email, the email field keeps the focus', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const { page } = await submitPage(browser, loginPage, 'form[action$="/password"]', { email: '', password: 'x' });
    expect(page.doc.querySelector('#email')!.hasAttribute('autofocus')).toBe(true);
    expect(page.doc.querySelector('#password')!.hasAttribute('autofocus')).toBe(false);
  });
});

describe('the locked page', () => {
  it('says how long the lock lasts, for an account and for an address without one alike', async () => {
    const u = await user();
    for (const email of [u.email, `ghost${n}@plain.example`]) {
      let last: { res: Response; page: Page } | undefined;
      for (let i = 0; i < 6; i++) {
        const browser = new Browser();
        const { loginPage } = await startSignIn(browser, web);
        last = await submitPage(browser, loginPage, 'form[action$="/password"]', { email, password: 'Wrong-Pass-1' });
      }
      expect(last!.res.status).toBe(429);
      // LOCKOUT_MINUTES defaults to 15; the lock was set a moment ago.
      expect(errorsOn(last!.page)).toEqual([expect.stringMatching(/^Too many failed sign-ins\. Try again in 1[45] minutes, or reset your password\.$/)]);
    }
  });
});

describe('the second step', () => {
  /** Signs in a user of the strict organization up to the enrollment page (authenticator app chosen). */
  async function toEnrollment(email: string) {
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email, password: PASSWORD });
    const landing = await chooseAuthenticatorApp(browser, await next(browser, res, started.loginPage.url));
    return { browser, started, page: landing.page! };
  }

  it('enrollment: an otpauth:// link beside the QR code, the key in unbreakable blocks of 4 copied as one, and Cancel', async () => {
    const u = await user('strict.example');
    const { browser, page } = await toEnrollment(u.email);
    const link = page.doc.querySelector('a[href^="otpauth://"]')!;
    expect(link.text.trim()).toBe('Open in your authenticator app');
    const uri = new URL(link.getAttribute('href')!);
    expect(uri.protocol).toBe('otpauth:');
    const secret = uri.searchParams.get('secret')!;
    const blocks = page.doc.querySelectorAll('code.secret span').map((s) => s.text);
    expect(blocks.every((b, i) => b.length === 4 || (i === blocks.length - 1 && b.length > 0 && b.length <= 4))).toBe(true);
    // No text between the blocks: selecting and copying the key gives it whole.
    expect(page.doc.querySelector('code.secret')!.text).toBe(secret);
    expect(blocks.join('')).toBe(secret);
    const cancelled = await browser.submit(page, 'form[action$="/abort"]', {});
    const back = await next(browser, cancelled, page.url);
    expect(new URL(back.callback!).searchParams.get('error')).toBe('access_denied');
  });

  it('the code page offers "Use a recovery code": a text field that takes a recovery code; and Cancel', async () => {
    const u = await user('strict.example');
    // Enroll through the pages and keep the recovery codes.
    const first = await toEnrollment(u.email);
    const secret = first.page.doc.querySelector('code.secret')!.text;
    const shown = await first.browser.submit(first.page, 'form[action$="/enroll-totp"]', { code: await generate({ secret }) });
    const codes = (await pageOf(shown, first.page.url)).doc.querySelectorAll('ul.codes code').map((c) => c.text);
    expect(codes.length).toBeGreaterThan(0);

    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    const totp = (await next(browser, res, started.loginPage.url)).page!;
    expect(totp.doc.querySelector('form[action$="/totp"] input[name=code]')!.getAttribute('inputmode')).toBe('numeric');
    expect(totp.doc.querySelector('form[action$="/abort"]')).toBeTruthy();
    const choice = totp.doc.querySelectorAll('.other-methods button').find((b) => b.text.trim() === 'Use a recovery code')!;
    expect(choice.getAttribute('value')).toBe('recovery-code');
    const chosen = await browser.submit(totp, '.other-methods', { choose: 'recovery-code' });
    const page = (await next(browser, chosen, totp.url)).page!;
    const field = page.doc.querySelector('form[action$="/recovery-code"] input[name=code]')!;
    expect(field.getAttribute('type')).toBe('text');
    expect(field.getAttribute('inputmode')).not.toBe('numeric');
    expect(page.doc.querySelector('form[action$="/abort"]')).toBeTruthy();
    const wrong = await submitPage(browser, page, 'form[action$="/recovery-code"]', { code: 'ABCDE-FGHIJ' });
    expect(wrong.res.status).toBe(401);
    expect(wrong.page.doc.querySelector('#code')!.getAttribute('aria-describedby')).toBe('form-errors');
    const passed = await browser.submit(page, 'form[action$="/recovery-code"]', { code: codes[0]!.toLowerCase() });
    const done = await next(browser, passed, page.url);
    expect(done.callback).toMatch(/[?&]code=/);
  });
});

describe('new passwords: when the two differ, every broken rule is listed too', () => {
  const WEAK = 'weak';
  const expected = ['The two passwords do not match.', 'Use at least 8 characters.', 'Include an uppercase letter (A–Z).', 'Include a number (0–9).'];

  it('on the reset page', async () => {
    const u = await user();
    const link = await forgotLink(new Browser(), u.email);
    const browser = new Browser();
    const page = await browser.page(link);
    expect(await submitNewPassword(browser, page, 'form[action="/password/reset"]', WEAK, { confirmPassword: 'other' })).toEqual({ accepted: false, errors: expected });
    // A strong password typed twice differently: the mismatch alone.
    expect(await submitNewPassword(browser, page, 'form[action="/password/reset"]', 'Strong-Pass-9', { confirmPassword: 'Strong-Pass-8' })).toEqual({
      accepted: false,
      errors: ['The two passwords do not match.'],
    });
  });

  it('on the invitation page', async () => {
    const { link } = await inviteThroughApi(h, { email: `invited${++n}@plain.example` });
    const browser = new Browser();
    const page = await browser.page(link);
    expect(await submitNewPassword(browser, page, 'form[action="/invitation"]', WEAK, { confirmPassword: 'other' })).toEqual({ accepted: false, errors: expected });
  });

  it('on the forced change at sign-in', async () => {
    const u = await user();
    expect((await h.api('POST', `/users/${u.id}/password-reset`, { requireChangeAtNextSignIn: true })).status).toBe(202);
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    const page = (await next(browser, res, started.loginPage.url)).page!;
    expect(await submitNewPassword(browser, page, 'form[action$="/change-password"]', WEAK, { confirmPassword: 'other' })).toEqual({ accepted: false, errors: expected });
    const again = await pageOf(await browser.submit(page, 'form[action$="/change-password"]', { newPassword: WEAK, confirmPassword: 'other' }), page.url);
    expect(again.doc.querySelector('#newPassword')!.getAttribute('aria-describedby')).toBe('form-errors password-rules');
  });

  it('the minimum-age refusal carries the time as a date, shown as a local <time>, not a raw timestamp', async () => {
    const u = await user();
    await putPolicy(h, (await h.app.services.policies.effectiveFor({ email: u.email })).organizationId!, { password: { minAgeHours: 24 } });
    try {
      const account = (await h.app.services.accounts.findById(u.id))!;
      const result = await h.app.services.passwordChanges.change({ account, newPassword: 'Another-Pass-2', currentPassword: PASSWORD, kind: 'self', actor: { type: 'user', id: u.id } });
      if (result.ok) throw new Error('the minimum age did not hold');
      const text = result.errors[0]!.text as { text: string; values: { when: Date } };
      expect(text.values.when).toBeInstanceOf(Date);
      expect(text.values.when.getTime()).toBe((account.passwordChangedAt + 24 * 3600) * 1000);
      const html = translator('en').html(text);
      expect(html).toMatch(/^You changed your password recently\. You can change it again after <time datetime="[^"]+Z" data-local="date-time">[^<]+UTC<\/time>\.$/);
      expect(translator('vi').html(text)).toContain('Bạn vừa đổi mật khẩu gần đây');
      // The API keeps answering in English with an ISO 8601 time.
      expect(result.errors[0]!.message).toMatch(/after \d{4}-\d{2}-\d{2}T[\d:.]+Z\.$/);
    } finally {
      await putPolicy(h, (await h.app.services.policies.effectiveFor({ email: u.email })).organizationId!, { password: { minAgeHours: 0 } });
    }
  });
});

/** Asks for a reset link on the forgot page of `browser` (optionally reached from a sign-in) and returns the mailed link. */
async function forgotLink(browser: Browser, email: string, forgotUrl = `${h.running.issuer}/password/forgot`) {
  const form = await browser.page(forgotUrl);
  const before = h.smtp.received.length;
  const res = await browser.submit(form, 'form[action="/password/forgot"]', { email });
  expect(res.status).toBe(200);
  return resetLinkIn(await h.smtp.waitFor((m) => m.to === email && m.subject.includes('Reset'), before));
}

describe('forgot password from a sign-in', () => {
  it('leads back to that sign-in, and after the reset continues it in the same browser', async () => {
    const u = await user();
    const browser = new Browser();
    const { loginPage, verifier, state } = await startSignIn(browser, web);
    const uid = new URL(loginPage.url).pathname.split('/').pop()!;
    const forgotHref = loginPage.doc.querySelector('a[href^="/password/forgot"]')!.getAttribute('href')!;
    expect(forgotHref).toBe(`/password/forgot?interaction=${uid}`);
    const forgot = await browser.page(new URL(forgotHref, loginPage.url).href);
    const back = forgot.doc.querySelectorAll('a').find((a) => a.text.trim() === 'Back to sign-in')!;
    expect(back.getAttribute('href')).toBe(`/interaction/${uid}`);
    expect((await browser.page(new URL(back.getAttribute('href')!, forgot.url).href)).doc.querySelector('form[action$="/password"]')).toBeTruthy();

    const link = await forgotLink(browser, u.email, new URL(forgotHref, loginPage.url).href);
    // The reset link opens in this browser (a new tab): after the reset, the sign-in continues.
    const reset = await browser.page(link);
    const done = await pageOf(await browser.submit(reset, 'form[action="/password/reset"]', { newPassword: 'Reset-Pass-7', confirmPassword: 'Reset-Pass-7' }), reset.url);
    expect(done.status).toBe(200);
    const cont = done.doc.querySelectorAll('a').find((a) => a.text.trim() === 'Continue signing in')!;
    expect(cont.getAttribute('href')).toBe(`/interaction/${uid}`);
    const login = await browser.page(new URL(cont.getAttribute('href')!, done.url).href);
    const signedIn = await browser.submit(login, 'form[action$="/password"]', { email: u.email, password: 'Reset-Pass-7' });
    const callback = (await next(browser, signedIn, login.url)).callback!;
    const tokens = await client.authorizationCodeGrant(web.config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.access_token).toBeTruthy();
  });

  it('another browser, a finished sign-in or a forged value gets no way back: never a link elsewhere', async () => {
    const u = await user();
    // A value that is not an interaction uid is ignored.
    for (const forged of ['..%2F..%2Fevil', 'https%3A%2F%2Fevil.example%2F', 'short']) {
      const page = await new Browser().page(`${h.running.issuer}/password/forgot?interaction=${forged}`);
      expect(page.doc.querySelectorAll('a').map((a) => a.text.trim())).not.toContain('Back to sign-in');
      expect(page.doc.querySelector('input[name=interaction]')).toBeNull();
    }
    // The reset link opened in another browser: the sign-in of the first one is not offered.
    const first = new Browser();
    const { loginPage } = await startSignIn(first, web);
    const uid = new URL(loginPage.url).pathname.split('/').pop()!;
    const link = await forgotLink(first, u.email, `${h.running.issuer}/password/forgot?interaction=${uid}`);
    const other = new Browser();
    const reset = await other.page(link);
    const done = await pageOf(await other.submit(reset, 'form[action="/password/reset"]', { newPassword: 'Reset-Pass-8', confirmPassword: 'Reset-Pass-8' }), reset.url);
    expect(done.doc.querySelector('.lead')!.text).toContain('Go back to your application');
    expect(done.html).not.toContain('/interaction/');
    // A sign-in that has ended is not offered either.
    const ended = new Browser();
    const started = await startSignIn(ended, web);
    const endedUid = new URL(started.loginPage.url).pathname.split('/').pop()!;
    const link2 = await forgotLink(ended, u.email, `${h.running.issuer}/password/forgot?interaction=${endedUid}`);
    await h.app.services.oidcStore.destroy('Interaction', endedUid);
    const reset2 = await ended.page(link2);
    const done2 = await pageOf(await ended.submit(reset2, 'form[action="/password/reset"]', { newPassword: 'Reset-Pass-9', confirmPassword: 'Reset-Pass-9' }), reset2.url);
    expect(done2.status).toBe(200);
    expect(done2.html).not.toContain('/interaction/');
  });
});

describe('consent', () => {
  it('names the host the app sends back to, weighs Deny like Allow, and links to the account', async () => {
    const third = await registerClient(h.app, h.running.issuer, { thirdParty: true });
    const u = await user();
    const browser = new Browser();
    const started = await startSignIn(browser, third);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    const consent = (await next(browser, res, started.loginPage.url)).page!;
    expect(consent.doc.querySelector('h1')!.text).toBe('Allow access?');
    expect(consent.doc.querySelectorAll('p').map((p) => p.text.trim())).toContain(`You will be sent back to ${new URL(RP).host}.`);
    const allow = consent.doc.querySelector('button[value=allow]')!;
    const deny = consent.doc.querySelector('button[value=deny]')!;
    expect(allow.classList.contains('link')).toBe(false);
    expect(deny.classList.contains('link')).toBe(false);
    expect(deny.classList.contains('secondary-button')).toBe(true);
    expect(consent.doc.querySelector('a[href="/account"]')!.text.trim()).toBe('Your account');
    expect(consent.doc.querySelectorAll('ul.scopes li').map((li) => li.text.trim())).toEqual(
      expect.arrayContaining(['Know who you are', 'See your email address', 'See your name', 'Stay connected while you are away']),
    );
    const denied = await browser.submit(consent, 'form[action$="/consent"]', { decision: 'deny' });
    expect(new URL((await next(browser, denied, consent.url)).callback!).searchParams.get('error')).toBe('access_denied');
  });
});

describe('logout confirmation', () => {
  async function confirmation(browser: Browser, idToken: string) {
    const url = client.buildEndSessionUrl(web.config, { id_token_hint: idToken, post_logout_redirect_uri: RP_LOGGED_OUT });
    return browser.page(url.href);
  }

  /** Follows "No, stay signed in" (a GET form of its own) and returns the page it shows. */
  async function stay(browser: Browser, page: Page) {
    const form = page.doc.querySelector('form#stay')!;
    expect(form.getAttribute('method')).toBe('get');
    const query = new URLSearchParams(form.querySelectorAll('input').map((i) => [i.getAttribute('name')!, i.getAttribute('value')!] as [string, string]));
    return browser.page(`${new URL(form.getAttribute('action')!, page.url).href}?${query}`);
  }

  /** The access token still works at userinfo (its grant was not revoked). */
  const userinfoWorks = (accessToken: string, sub: string) =>
    client.fetchUserInfo(web.config, accessToken, sub).then(
      () => true,
      () => false,
    );

  it('"No, stay signed in" leaves the session, the grant and the refresh token as they were', async () => {
    const u = await user();
    const browser = new Browser();
    // Without offline_access the app's tokens end with the session's authorization: any logout of the app shows.
    const { tokens } = await signIn(browser, web, u.email, PASSWORD, { scope: 'openid email' });
    const sub = tokens.claims()!.sub;
    const page = await confirmation(browser, tokens.id_token!);
    expect(page.doc.querySelector('button[value=yes]')!.getAttribute('form')).toBe('op.logoutForm');
    // "No" is not a button of oidc-provider's form: it is a GET to a page of its own, a full button like "Yes".
    const no = page.doc.querySelectorAll('button').find((b) => b.text.trim() === 'No, stay signed in')!;
    expect(no.hasAttribute('form')).toBe(false);
    expect(no.classList.contains('secondary-button')).toBe(true);
    expect(page.doc.querySelector('a[href="/account"]')!.text.trim()).toBe('Your account');
    const stayed = await stay(browser, page);
    expect(stayed.status).toBe(200);
    expect(stayed.doc.querySelector('h1')!.text).toBe('You are still signed in');

    expect(await userinfoWorks(tokens.access_token, sub)).toBe(true);
    // The browser session still signs in to the app without a password.
    const again = await browser.follow(
      client.buildAuthorizationUrl(web.config, {
        redirect_uri: `${RP}/callback`,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).href,
      (url) => url.startsWith(RP),
    );
    expect('redirectedTo' in again && again.redirectedTo).toMatch(/[?&]code=/);
  });

  it('after "No", the refresh token of an app with offline access still works', async () => {
    const u = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, u.email, PASSWORD);
    await stay(browser, await confirmation(browser, tokens.id_token!));
    expect((await client.refreshTokenGrant(web.config, tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('what "No" used to do, submitting the logout form without logout=yes, did end the app\'s session', async () => {
    const u = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, u.email, PASSWORD, { scope: 'openid email' });
    const page = await confirmation(browser, tokens.id_token!);
    const res = await browser.submit(page, 'form#op\\.logoutForm', {});
    await browser.follow(new URL(res.headers.get('location')!, page.url).href, (url) => url.startsWith(RP));
    expect(await userinfoWorks(tokens.access_token, tokens.claims()!.sub)).toBe(false);
  });
});

describe('an expired sign-in', () => {
  it('says to go back to the application once', async () => {
    const page = await new Browser().page(`${h.running.issuer}/interaction/AAAAAAAAAAAAAAAAAAAAA`);
    expect(page.status).toBe(400);
    expect(page.html.match(/Go back to the application/g)).toHaveLength(1);
  });
});
