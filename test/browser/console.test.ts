/**
 * The console in Chromium: an organization owner opens /console, signs in through Gatehouse's own page,
 * claims a domain, copies the TXT record with the copy buttons, creates it in the loopback DNS server,
 * verifies, and opens the revocation confirmation. Each console page is checked with axe (WCAG 2.x A and
 * AA; serious or critical violations fail), for sideways scrolling, and photographed at 1280×800 and
 * 390×844, light and dark, into screenshots/ (or SCREENSHOT_DIR).
 */
import type { Browser, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { describeWithBrowser, launchChromium, PAGE_WAIT } from '../helpers/chromium.js';
import { checkConsolePage as check, expectText, signInToConsole, VIEWPORTS } from '../helpers/console-browser.js';

const PASSWORD = 'Console-Browser-2026';
declare const navigator: { clipboard: { readText(): Promise<string> } };

describeWithBrowser('the console in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let orgId: string;

  beforeAll(async () => {
    [browser, h] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' })]);
    orgId = (await h.api('POST', '/organizations', { name: 'Northwind' })).body.id;
    for (const [email, role] of [['owner@northwind.test', 'owner'], ['member@northwind.test', 'member']] as const) {
      const u = await h.api('POST', '/users', { email, password: PASSWORD });
      expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: u.body.id, role })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  const signIn = (page: Page, email: string) => signInToConsole(page, h.running.issuer, email, PASSWORD);

  it('an owner signs in, claims a domain, copies the TXT record, verifies it; every page passes axe', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.running.issuer });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    const problems: string[] = [];
    try {
      await signIn(page, 'owner@northwind.test');
      await page.waitForURL(`${h.running.issuer}/console/orgs/${orgId}/domain`);
      problems.push(...(await check(page, 'domain-empty')));

      await page.locator('#domain').fill('northwind.test');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Claim', exact: true }).click()]);
      const name = await page.locator('code[id="name-northwind.test"]').textContent();
      const value = (await page.locator('code[id="value-northwind.test"]').textContent())!;
      // The copy buttons appear with JavaScript and put the exact text on the clipboard.
      await page.getByRole('button', { name: 'Copy value' }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(value);
      problems.push(...(await check(page, 'domain-pending')));

      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify now' }).click()]);
      await expectText(page, 'No TXT record was found at that name yet');
      problems.push(...(await check(page, 'domain-not-found')));

      h.dns.txt.set(name!, [[value]]);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify now' }).click()]);
      await expectText(page, 'northwind.test is verified');
      problems.push(...(await check(page, 'domain-verified')));

      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Revoke this claim' }).click()]);
      await expectText(page, 'Your security policies will stop applying to 2 users');
      problems.push(...(await check(page, 'domain-revoke')));
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  });

  it('a member sees the "not an administrator" page, which passes axe', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    try {
      await signIn(page, 'member@northwind.test');
      await expectText(page, 'You are not an administrator');
      expect(await check(page, 'not-admin')).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

