/**
 * The sign-in page fixes whose effect is in the browser: where the focus lands after a wrong password,
 * and the authenticator key on a phone (blocks never broken across lines, copied as one piece). Also
 * writes screenshots of the changed pages when SCREENSHOT_DIR is set.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, screenshot, screenshotLook, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';

const PASSWORD = 'Browser-Fixes-1';

// Browser globals used inside page.evaluate (the project compiles without the DOM library).
interface El { id: string; textContent: string | null; getClientRects(): { length: number }; querySelectorAll(s: string): ArrayLike<El> }
declare const document: { activeElement: El | null; querySelector(s: string): El | null; createRange(): { selectNodeContents(n: El): void }; documentElement: { scrollWidth: number; clientWidth: number } };
declare const window: { getSelection(): { removeAllRanges(): void; addRange(r: unknown): void; toString(): string } };

describeWithBrowser('sign-in page fixes in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  let web: TestClient;
  let third: TestClient;
  let context: BrowserContext;
  let page: Page;
  let n = 0;

  beforeAll(async () => {
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({}, { host: 'localhost' }), startLoopbackRp()]);
    web = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback });
    third = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback, thirdParty: true });
    const orgId = await organizationWithDomain(h, 'Enforcing Co', 'enforcing.example');
    await putPolicy(h, orgId, { authentication: { enforce2fa: true } });
  });
  afterAll(async () => {
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });
  beforeEach(async () => {
    // A phone unless SCREENSHOT_VIEWPORT says otherwise: the key's blocks must fit its width.
    const { contextOptions } = screenshotLook();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, ...contextOptions });
    page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
  });
  afterEach(() => context.close());

  async function typePassword(email: string, password = PASSWORD) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('after a wrong password the cursor is in the password field, the email kept', async () => {
    const email = `focus${++n}@example.com`;
    await createUser(h, email, PASSWORD);
    await authorizeInPage(page, web, rp);
    await typePassword(email, 'Wrong-Pass-1');
    await page.waitForSelector('#form-errors');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    expect(await page.getByLabel('Email').inputValue()).toBe(email);
    expect(await page.locator('#form-errors p').textContent()).toBe('Incorrect email or password.');
    await screenshot(page, 'sign-in-wrong-password');
  });

  it('the authenticator key on a phone: blocks of 4 on one line each, copied as one piece; the app link beside the QR code', async () => {
    const email = `key${++n}@enforcing.example`;
    await createUser(h, email, PASSWORD);
    await authorizeInPage(page, web, rp);
    await typePassword(email);
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    await page.waitForSelector('code.secret');
    const href = await page.getByRole('link', { name: 'Open in your authenticator app' }).getAttribute('href');
    const secret = new URL(href!).searchParams.get('secret')!;
    const layout = await page.evaluate(() => {
      const code = document.querySelector('code.secret')!;
      const spans = Array.from(code.querySelectorAll('span'));
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      return {
        linesPerBlock: spans.map((s) => s.getClientRects().length),
        copied: selection.toString(),
        sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
      };
    });
    expect(layout.linesPerBlock.every((lines) => lines === 1)).toBe(true);
    expect(layout.copied).toBe(secret);
    expect(layout.sideways).toBe(false);
    await screenshot(page, 'enroll-totp');
    // Cancel goes back to the app with access_denied.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL((u) => u.href.startsWith(rp.callback));
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
  });

  it('screenshots: consent, logout confirmation, "still signed in", the sign-in page in Vietnamese', async () => {
    const email = `shots${++n}@example.com`;
    await createUser(h, email, PASSWORD);
    await authorizeInPage(page, third, rp);
    await typePassword(email);
    await page.waitForSelector('button[value=deny]');
    const [allow, deny] = await Promise.all(['allow', 'deny'].map((v) => page.locator(`button[value=${v}]`).boundingBox()));
    // Deny weighs as much as Allow: the same width and height.
    expect(deny!.width).toBe(allow!.width);
    expect(deny!.height).toBe(allow!.height);
    await screenshot(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(rp.callback));
    await page.goto(`${h.running.issuer}/session/end`);
    await page.waitForSelector('form#stay');
    const [yes, no] = await Promise.all([page.locator('button[value=yes]'), page.locator('form#stay button')].map((l) => l.boundingBox()));
    expect(no!.width).toBe(yes!.width);
    expect(no!.y).toBeGreaterThan(yes!.y);
    await screenshot(page, 'logout');
    await page.getByRole('button', { name: 'No, stay signed in' }).click();
    await page.waitForSelector('h1:has-text("You are still signed in")');
    await screenshot(page, 'still-signed-in');
    // Signed out of nothing: a fresh browser for the sign-in page.
    await context.close();
    context = await browser.newContext({ viewport: { width: 390, height: 844 }, ...screenshotLook().contextOptions });
    page = await context.newPage();
    await page.goto(`${h.running.issuer}/password/forgot?lang=vi`);
    await authorizeInPage(page, web, rp);
    await page.waitForSelector('h1:has-text("Đăng nhập")');
    await screenshot(page, 'sign-in-vi');
  });
});
