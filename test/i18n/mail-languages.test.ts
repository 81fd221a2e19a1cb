import { generate } from 'otplib';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn, type TestClient } from '../helpers/oidc.js';
import { resetLinkIn, type ReceivedMail } from '../helpers/smtp.js';
import { afterPassword, land, stepOf, submitCode } from '../helpers/two-factor.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';

/**
 * Every mail in the recipient's language (services/mail.ts mailLocale): the language the account last
 * signed in with; else that of the owner's own request that caused the mail; else DEFAULT_LOCALE. Real
 * pages, a real SMTP server on loopback, the real background job.
 */

/** A browser whose every request says which languages its user reads. */
class SpeakingBrowser extends Browser {
  constructor(private readonly acceptLanguage: string) {
    super();
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept-language', this.acceptLanguage);
    return super.request(url, { ...init, headers });
  }
}
const VIETNAMESE = 'vi-VN,vi;q=0.9,en;q=0.5';
const ENGLISH = 'en-GB,en;q=0.9';

const DAY = 86400;
const PASSWORD = 'Lang-Pass-1';
const now = () => Math.floor(Date.now() / 1000);
let n = 0;

async function newUser(h: AdminHarness, domain: string): Promise<{ id: string; email: string }> {
  const email = `user${++n}@${domain}`;
  return { id: await createUser(h, email, PASSWORD), email };
}

const storedLocale = async (h: AdminHarness, id: string) => ((await h.app.services.db('accounts').where({ id }).first('locale')) as { locale: string | null }).locale;

/** Runs the password expiry job on an account whose password is 80 days old (policy: 90) and returns its warning. */
async function expiryWarning(h: AdminHarness, u: { id: string; email: string }): Promise<ReceivedMail> {
  await h.app.services.db('accounts').where({ id: u.id }).update({ password_changed_at: now() - 80 * DAY });
  const before = h.smtp.received.length;
  expect(await h.app.services.expiryWarnings.run()).toContain(u.email);
  return h.smtp.waitFor((m) => m.to === u.email, before);
}

async function forgotPassword(h: AdminHarness, browser: Browser, email: string): Promise<ReceivedMail> {
  const form = await browser.page(`${h.running.issuer}/password/forgot`);
  const before = h.smtp.received.length;
  expect((await browser.submit(form, 'form[action="/password/forgot"]', { email })).status).toBe(200);
  return h.smtp.waitFor((m) => m.to === email, before);
}

describe('with the default language (English)', () => {
  let h: AdminHarness;
  let web: TestClient;
  const domain = 'langs.example';

  beforeAll(async () => {
    h = await startAdminHarness();
    web = await registerClient(h.app, h.running.issuer);
    const orgId = await organizationWithDomain(h, 'Languages', domain);
    await putPolicy(h, orgId, { password: { expirationDays: 90, minAgeHours: 0 } });
  });
  afterAll(() => h.stop());

  it('a forgot-password request from a page in Vietnamese sends the link in Vietnamese; from a page in English, in English', async () => {
    const u = await newUser(h, domain);
    const vi = await forgotPassword(h, new SpeakingBrowser(VIETNAMESE), u.email);
    expect(vi.subject).toBe('Đặt lại mật khẩu Gatehouse của bạn');
    expect(vi.text).toContain('Có người đã yêu cầu đặt lại mật khẩu của tài khoản này.');
    expect(vi.text).toMatch(/trong \d+ phút/);
    expect(resetLinkIn(vi)).toContain('/password/reset?token=');

    const en = await forgotPassword(h, new SpeakingBrowser(ENGLISH), u.email);
    expect(en.subject).toBe('Reset your Gatehouse password');
    expect(en.text).toContain('Someone asked to reset the password of this account.');
    // The request alone never stores a language: only a completed sign-in does.
    expect(await storedLocale(h, u.id)).toBeNull();
  });

  it("an administrator's language never chooses: an admin reset asked in Vietnamese goes out in the default", async () => {
    const u = await newUser(h, domain);
    const res = await fetch(`${h.running.issuer}/admin/v1/users/${u.id}/password-reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.platformToken}`, 'content-type': 'application/json', 'accept-language': VIETNAMESE },
      body: JSON.stringify({ requireChangeAtNextSignIn: false }),
    });
    expect(res.status).toBe(202);
    const mail = await h.smtp.waitFor((m) => m.to === u.email);
    expect(mail.subject).toBe('Reset your Gatehouse password');
    expect(mail.text).toContain('An administrator asked Gatehouse to let you choose a new password.');
  });

  it('the stored language follows each completed sign-in, and the expiry warning (background job) is written in it', async () => {
    const u = await newUser(h, domain);
    expect(await storedLocale(h, u.id)).toBeNull();
    await signIn(new SpeakingBrowser(ENGLISH), web, u.email, PASSWORD);
    expect(await storedLocale(h, u.id)).toBe('en');
    await signIn(new SpeakingBrowser(VIETNAMESE), web, u.email, PASSWORD);
    expect(await storedLocale(h, u.id)).toBe('vi');

    const mail = await expiryWarning(h, u);
    expect(mail.subject).toBe('Mật khẩu Gatehouse của bạn sắp hết hạn');
    expect(mail.text).toContain(`Mật khẩu của tài khoản ${u.email} sẽ hết hạn lúc `);
    // The date in words, in UTC and saying so (a mail does not know the reader's time zone).
    expect(mail.text).toMatch(/\d{4}.* UTC\./);
    expect(mail.text).not.toMatch(/expires|\d{4}-\d\d-\d\dT/);

    // Stored, it outranks the request: a forgot-password from a page in English is still in Vietnamese.
    expect((await forgotPassword(h, new SpeakingBrowser(ENGLISH), u.email)).subject).toBe('Đặt lại mật khẩu Gatehouse của bạn');
  });

  it('with nothing stored and no request, the expiry warning is in English', async () => {
    const u = await newUser(h, domain);
    const mail = await expiryWarning(h, u);
    expect(mail.subject).toBe('Your Gatehouse password expires soon');
    expect(mail.text).toMatch(new RegExp(`^The password of ${u.email.replace('.', '\\.')} expires on .*\\d{4}.* UTC\\.$`, 'm'));
  });

  it("a security notice follows the owner's page while nothing is stored, then the stored language: two-step verification on, then removed by an administrator", async () => {
    const orgId = await organizationWithDomain(h, 'Two steps', 'twostep.example');
    await putPolicy(h, orgId, { authentication: { enforce2fa: true } });
    const u = await newUser(h, 'twostep.example');
    // Enrolling at sign-in, in Vietnamese: the mail is sent before the sign-in completes (nothing stored yet).
    const browser = new SpeakingBrowser(VIETNAMESE);
    const landing = await afterPassword(browser, web, u.email, PASSWORD);
    expect(stepOf(landing)).toBe('enroll-totp');
    const secret = landing.page!.doc.querySelector('code.secret')!.text.replace(/\s/g, '');
    const before = h.smtp.received.length;
    const shown = await submitCode(browser, landing.page!, 'enroll-totp', await generate({ secret }));
    expect(shown.status).toBe(200);
    const on = await h.smtp.waitFor((m) => m.to === u.email, before);
    expect(on.subject).toBe('Gatehouse: Xác minh hai bước đã được bật');
    expect(on.text).toContain('Việc này được thực hiện từ địa chỉ 127.0.0.1.');
    const done = await browser.submit(shown.page!, 'form[action$="/recovery-codes"]', {});
    expect(stepOf(await land(browser, done, shown.page!.url))).toBe('callback');
    expect(await storedLocale(h, u.id)).toBe('vi');

    const removedAt = h.smtp.received.length;
    expect((await h.api('POST', `/users/${u.id}/reset-2fa`)).status).toBe(200);
    const off = await h.smtp.waitFor((m) => m.to === u.email, removedAt);
    expect(off.subject).toBe('Gatehouse: Xác minh hai bước đã bị gỡ bỏ');
    expect(off.text).toContain(`Một quản trị viên đã gỡ bỏ mọi yếu tố xác minh thứ hai`);
  });
});

describe('DEFAULT_LOCALE=vi', () => {
  let h: AdminHarness;
  const domain = 'mac-dinh.example';

  beforeAll(async () => {
    h = await startAdminHarness({ DEFAULT_LOCALE: 'vi' });
    const orgId = await organizationWithDomain(h, 'Mặc định', domain);
    await putPolicy(h, orgId, { password: { expirationDays: 90, minAgeHours: 0 } });
  });
  afterAll(() => h.stop());

  it('with nothing stored, the expiry warning is in Vietnamese', async () => {
    const u = await newUser(h, domain);
    const mail = await expiryWarning(h, u);
    expect(mail.subject).toBe('Mật khẩu Gatehouse của bạn sắp hết hạn');
    expect(mail.text).toContain('Hãy đổi mật khẩu trước thời điểm đó');
  });

  it('an invitation, sent for an administrator whose API call says English, is in Vietnamese', async () => {
    const email = `invited${++n}@${domain}`;
    const res = await fetch(`${h.running.issuer}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.platformToken}`, 'content-type': 'application/json', 'accept-language': ENGLISH },
      body: JSON.stringify({ email, invite: true }),
    });
    expect(res.status).toBe(201);
    const mail = await h.smtp.waitFor((m) => m.to === email);
    expect(mail.subject).toBe('Bạn được mời sử dụng Gatehouse');
    expect(mail.text).toContain(`Một quản trị viên đã tạo tài khoản Gatehouse cho ${email}.`);
    expect(mail.text).toMatch(/trong 72 giờ\):\nhttps?:\/\/\S+\/invitation\?token=[\w-]+\n/);
  });
});
