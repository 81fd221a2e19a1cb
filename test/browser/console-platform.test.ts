/**
 * The console's Platform pages in Chromium: a platform admin (a person) lands on the organizations,
 * creates one with an owner, registers a client (the secret-once page), opens the confirmation of a new
 * secret, and the signing keys with their rotation's confirmation. Each page is checked with axe, for
 * sideways scrolling, and photographed (screenshots/console-platform-*).
 */
import type { Browser, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { describeWithBrowser, launchChromium, PAGE_WAIT } from '../helpers/chromium.js';
import { checkConsolePage as check, expectText, signInToConsole, VIEWPORTS } from '../helpers/console-browser.js';

const PASSWORD = 'Console-Browser-2026';
const ROOT = 'root@platform.test';

describeWithBrowser('the console\'s Platform pages in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;

  beforeAll(async () => {
    [browser, h] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' })]);
    for (const name of ['Northwind Traders', 'Contoso']) expect((await h.api('POST', '/organizations', { name })).status).toBe(201);
    for (const email of [ROOT, 'lead@fabrikam.test']) expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    await h.app.services.accounts.setPlatformAdmin(ROOT, true);
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  const submit = (page: Page, name: string) => Promise.all([page.waitForNavigation(), page.getByRole('button', { name, exact: true }).click()]);

  it('organizations, clients (the secret once, a confirmation) and signing keys pass axe at both widths, light and dark', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    const problems: string[] = [];
    try {
      await signInToConsole(page, h.running.issuer, ROOT, PASSWORD);
      await page.waitForURL(`${h.running.issuer}/console/platform/organizations`);
      problems.push(...(await check(page, 'platform-organizations')));

      await page.getByLabel('Name', { exact: true }).fill('Fabrikam');
      await page.getByLabel('Owner’s email address (optional)').fill('nobody@fabrikam.test');
      await submit(page, 'Create');
      await expectText(page, 'No user has the address nobody@fabrikam.test');
      problems.push(...(await check(page, 'platform-organizations-error')));

      await page.getByLabel('Owner’s email address (optional)').fill('lead@fabrikam.test');
      await submit(page, 'Create');
      await expectText(page, 'Fabrikam is created, owned by lead@fabrikam.test.');
      problems.push(...(await check(page, 'platform-organizations-created')));
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Open Fabrikam' }).click()]);
      await expectText(page, 'All organizations');
      problems.push(...(await check(page, 'platform-org-domain')));

      await page.goto(`${h.running.issuer}/console/platform/clients`);
      problems.push(...(await check(page, 'platform-clients')));
      await page.getByLabel('Name', { exact: true }).fill('Reports');
      await page.getByLabel('Redirect URIs').fill('https://reports.example/callback\nhttp://localhost:8080/callback');
      await submit(page, 'Register');
      await expectText(page, 'it is shown only this once');
      problems.push(...(await check(page, 'platform-client-secret')));

      await page.goto(`${h.running.issuer}/console/platform/clients`);
      await page.getByLabel('Redirect URIs').fill('http://reports.example/callback');
      await page.getByLabel('Name', { exact: true }).fill('Insecure');
      await submit(page, 'Register');
      await expectText(page, 'A redirect URI is not acceptable');
      problems.push(...(await check(page, 'platform-clients-error')));

      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'New secret (Reports)' }).click()]);
      await expectText(page, 'The current secret stops working at once.');
      problems.push(...(await check(page, 'platform-client-rotate')));

      await page.goto(`${h.running.issuer}/console/platform/clients`);
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Change (Reports)' }).click()]);
      await expectText(page, 'The client ID, its secret and its kind stay as they are.');
      problems.push(...(await check(page, 'platform-client-edit')));
      await page.getByLabel('Back-channel logout URI').fill('http://reports.example/logout');
      await submit(page, 'Save');
      await expectText(page, 'The registration was not saved');
      problems.push(...(await check(page, 'platform-client-edit-error')));
      await page.getByLabel('Back-channel logout URI').fill('https://reports.example/logout');
      await submit(page, 'Save');
      await expectText(page, 'The registration of Reports is saved.');

      await page.goto(`${h.running.issuer}/console/platform/keys`);
      problems.push(...(await check(page, 'platform-keys')));
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Rotate the signing keys…' }).click()]);
      problems.push(...(await check(page, 'platform-keys-rotate')));
      await submit(page, 'Rotate the keys');
      await expectText(page, 'The keys are rotated');
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 240_000);
});
