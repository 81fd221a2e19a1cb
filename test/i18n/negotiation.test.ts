import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { registerClient, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';
import { startApp, type RunningApp } from '../helpers/server.js';

/**
 * Which language the sign-in page speaks, through real HTTP: the person's ?lang= choice (kept in a
 * cookie for the next pages), then the app's ui_locales, then Accept-Language, then English.
 */
const EMAIL = 'lan@example.com';
const PASSWORD = 'Sturdy-Pass-42';

let running: RunningApp;
let web: TestClient;

beforeAll(async () => {
  running = await startApp();
  await running.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
  web = await registerClient(running.app, running.issuer);
});
afterAll(() => running.stop());

/** A browser that sends Accept-Language with every request. */
class BrowserSpeaking extends Browser {
  constructor(private readonly language: string) {
    super();
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept-language', this.language);
    return super.request(url, { ...init, headers });
  }
}

const languageOf = (page: Page) => ({
  lang: page.doc.querySelector('html')!.getAttribute('lang'),
  title: page.doc.querySelector('h1')!.text.trim(),
  button: page.doc.querySelector('form[action$="/password"] button[type=submit]')!.text.trim(),
});
const VIETNAMESE = { lang: 'vi', title: 'Đăng nhập', button: 'Đăng nhập' };
const ENGLISH = { lang: 'en', title: 'Sign in', button: 'Sign in' };

/** A wrong password on the page: the error it answers with. */
async function wrongPassword(browser: Browser, page: Page) {
  const res = await browser.submit(page, 'form[action$="/password"]', { email: EMAIL, password: 'Wrong-Pass-1' });
  expect(res.status).toBe(401);
  return errorsOn(await pageOf(res, page.url));
}

describe('the language of the sign-in page', () => {
  it('is English by default', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    expect(languageOf(loginPage)).toEqual(ENGLISH);
    expect(await wrongPassword(browser, loginPage)).toEqual(['Incorrect email or password.']);
  });

  it('follows ui_locales on the authorization request, for the whole sign-in, over Accept-Language', async () => {
    const browser = new BrowserSpeaking('en-US,en;q=0.9');
    const { loginPage } = await startSignIn(browser, web, { ui_locales: 'vi-VN en' });
    expect(languageOf(loginPage)).toEqual(VIETNAMESE);
    // The passkey script's texts come with the page, in its language.
    const texts = JSON.parse(loginPage.doc.querySelector('form[data-passkey]')!.getAttribute('data-texts')!);
    expect(texts).toMatchObject({ checking: 'Đang kiểm tra…', failedWith: 'Không thực hiện được: %s. Hãy thử lại, hoặc dùng cách khác.' });
    expect(await wrongPassword(browser, loginPage)).toEqual(['Email hoặc mật khẩu không đúng.']);
  });

  it('follows Accept-Language', async () => {
    const browser = new BrowserSpeaking('vi,en;q=0.5');
    const { loginPage } = await startSignIn(browser, web);
    expect(languageOf(loginPage)).toEqual(VIETNAMESE);
    expect(await wrongPassword(browser, loginPage)).toEqual(['Email hoặc mật khẩu không đúng.']);
    // A language Gatehouse does not have falls back to English.
    const { loginPage: other } = await startSignIn(new BrowserSpeaking('fr-FR,fr'), web);
    expect(languageOf(other)).toEqual(ENGLISH);
  });

  it('follows a ?lang=vi choice over everything else, and keeps it for the next pages', async () => {
    const browser = new BrowserSpeaking('en');
    const { loginPage } = await startSignIn(browser, web, { ui_locales: 'en' });
    expect(languageOf(loginPage)).toEqual(ENGLISH);
    const switcher = loginPage.doc.querySelector('nav.languages a[hreflang=vi]')!.getAttribute('href')!;
    expect(switcher).toMatch(/^\/interaction\/[\w-]+\?lang=vi$/);
    const chosen = await browser.page(new URL(switcher, loginPage.url).href);
    expect(languageOf(chosen)).toEqual(VIETNAMESE);
    // The cookie carries the choice: the form's answer and a later sign-in are in Vietnamese too.
    expect(await wrongPassword(browser, chosen)).toEqual(['Email hoặc mật khẩu không đúng.']);
    const { loginPage: later } = await startSignIn(browser, web, { ui_locales: 'en' });
    expect(languageOf(later)).toEqual(VIETNAMESE);
    const forgot = await browser.page(`${running.issuer}/password/forgot`);
    expect(forgot.doc.querySelector('h1')!.text.trim()).toBe('Quên mật khẩu?');
    // And back to English the same way.
    const english = await browser.page(`${running.issuer}/password/forgot?lang=en`);
    expect(english.doc.querySelector('h1')!.text.trim()).toBe('Forgot your password?');
  });
});
