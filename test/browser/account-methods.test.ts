/**
 * The account center's sign-in methods in a real Chromium: an authenticator app set up on
 * /account/security, new recovery codes (the old set refused at sign-in afterwards, a new code works),
 * and the re-authentication gate (a sign-in older than 5 minutes is sent to /account/confirm, then
 * allowed). Screenshots of the overview, the methods, the enrollment, the new codes and the gate.
 */
import { generate } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, screenshot, screenshotLook, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { clock } from '../helpers/clock.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { addVirtualAuthenticator } from '../helpers/virtual-authenticator.js';

const PASSWORD = 'Methods-Browser-1';
const TIMEOUT = PAGE_WAIT;

describeWithBrowser('account sign-in methods in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  let web: TestClient;
  const contexts: BrowserContext[] = [];
  let n = 0;

  beforeAll(async () => {
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({}, { host: 'localhost' }), startLoopbackRp()]);
    web = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback });
    const orgId = await organizationWithDomain(h, 'Acme', 'acme.example');
    await putPolicy(h, orgId, { password: { expirationDays: 90, minAgeHours: 0 } });
  });
  afterAll(async () => {
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });
  afterEach(async () => {
    clock.uninstall();
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext(screenshotLook().contextOptions);
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    return page;
  }

  /** Authorizes in a fresh browser with the password; returns the page (on the next step) and the flow. */
  async function passwordStep(email: string) {
    const page = await newPage();
    const flow = await authorizeInPage(page, web, rp);
    await page.locator('input[name=email]').fill(email);
    await page.locator('input[name=password]').fill(PASSWORD);
    await page.locator('input[name=password]').press('Enter');
    return { page, flow };
  }

  /** A signed-in browser of a new user of acme.example (no second factor yet), on the account overview. */
  async function signedIn() {
    const email = `b${++n}@acme.example`;
    await createUser(h, email, PASSWORD);
    const { page, flow } = await passwordStep(email);
    await flow.finish();
    await page.goto(`${h.running.issuer}/account`);
    return { email, page };
  }

  /** Sets up an authenticator app on /account/security; returns its seed and the recovery codes shown. */
  async function addApp(page: Page) {
    await page.goto(`${h.running.issuer}/account/security`);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code to scan with your authenticator app' }).waitFor();
    await screenshot(page, 'account-totp-enrollment');
    const secret = (await page.locator('code.key').textContent())!.replace(/\s/g, '');
    await page.getByLabel('The code the app shows').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Check the code and turn it on' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    return { secret, codes: (await page.locator('ul.codes code').allTextContents()).map((c) => c.trim()) };
  }

  /** Signs in with the password and a recovery code in a fresh browser; the page after the code (or the callback). */
  async function signInWithRecoveryCode(email: string, code: string) {
    const { page, flow } = await passwordStep(email);
    await page.locator('button[name=choose][value=recovery-code]').click();
    await page.locator('form[action$="/recovery-code"] input[name=code]').fill(code);
    await page.locator('form[action$="/recovery-code"] input[name=code]').press('Enter');
    return { page, flow };
  }

  it('shows the overview and the methods; new recovery codes replace the old set: an old code is refused at sign-in, a new one works', async () => {
    const { email, page } = await signedIn();
    await expect(page.locator('main').textContent()).resolves.toMatch(/Your organization acme\.example requires a new password every 90 days; yours expires on/);
    await screenshot(page, 'account-overview');
    const { codes: old } = await addApp(page);
    expect(old).toHaveLength(10);

    await page.goto(`${h.running.issuer}/account/security`);
    await expect(page.getByText('You have 10 unused recovery codes.').isVisible()).resolves.toBe(true);
    await screenshot(page, 'account-security');
    await page.getByRole('button', { name: 'Generate new codes' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    await expect(page.locator('p.notice').textContent()).resolves.toMatch(/The old ones no longer work/);
    const fresh = (await page.locator('ul.codes code').allTextContents()).map((c) => c.trim());
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => old.includes(c))).toEqual([]);
    await screenshot(page, 'account-new-recovery-codes');

    const refused = await signInWithRecoveryCode(email, old[0]!);
    await refused.page.locator('#form-errors').waitFor();
    expect(new URL(refused.page.url()).pathname).toMatch(/^\/interaction\//);

    const accepted = await signInWithRecoveryCode(email, fresh[0]!);
    expect((await accepted.flow.finish()).amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('the gate: a sign-in older than 5 minutes is sent to confirm (here with the app), then allowed', async () => {
    const { page } = await signedIn();
    const { secret } = await addApp(page);
    clock.install();
    clock.advance(6 * 60);
    await page.goto(`${h.running.issuer}/account/security`);
    await expect(page.getByRole('button', { name: 'Generate new codes' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: 'Remove the authenticator app' }).count()).resolves.toBe(0);
    await screenshot(page, 'account-security-stale');

    await page.getByRole('link', { name: 'Confirm with a code or a passkey instead' }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/account/security');
    await screenshot(page, 'account-confirm');
    await page.getByLabel('Code from your authenticator app, or a recovery code').fill('000000');
    await page.getByRole('button', { name: 'Confirm with code' }).click();
    await expect(page.locator('#form-errors').textContent()).resolves.toMatch(/not valid/);
    await page.getByLabel('Code from your authenticator app, or a recovery code').fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
    await Promise.all([page.waitForURL((u) => u.pathname === '/account/security'), page.getByRole('button', { name: 'Confirm with code' }).click()]);
    await expect(page.locator('p.notice').textContent()).resolves.toMatch(/^Confirmed\./);

    await page.getByRole('button', { name: 'Generate new codes' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    await page.goto(`${h.running.issuer}/account/security?lang=vi`);
    await screenshot(page, 'account-security-vi');
    await page.goto(`${h.running.issuer}/account/confirm?lang=vi`);
    await screenshot(page, 'account-confirm-vi');
  });

  it('the gate with a passkey: a stale session confirms with its passkey and returns to the page it came from', async () => {
    const { page } = await signedIn();
    await addVirtualAuthenticator(page, { kind: 'passkey' });
    await page.goto(`${h.running.issuer}/account/security`);
    await page.getByRole('button', { name: 'Add a new passkey' }).click();
    await page.getByRole('heading', { name: 'Your new recovery codes' }).waitFor();
    clock.install();
    clock.advance(6 * 60);
    await page.goto(`${h.running.issuer}/account/confirm?next=%2Faccount`);
    await page.getByRole('button', { name: 'Confirm with your passkey' }).click();
    await page.waitForURL((u) => u.pathname === '/account' && !u.search);
    await page.goto(`${h.running.issuer}/account/security`);
    await expect(page.getByRole('button', { name: 'Generate new codes' }).count()).resolves.toBe(1);
    const events = await h.app.services.db('audit_events').where({ type: 'account.reauthenticated' });
    expect(events.map((e) => JSON.parse(String(e.data)).method)).toContain('passkey');
  });
});
