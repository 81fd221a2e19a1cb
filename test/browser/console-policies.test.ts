/**
 * The security-policy pages in Chromium: the editor of an organization with a verified domain, the
 * not-in-force state, a field error, the preview with the whitelist warning, the baseline page, and the
 * whitelist editor's script (an invalid entry is refused with a message; the administrator's own address
 * is added with one button). Each page is checked with axe, for sideways scrolling, and photographed
 * (console-policies*.png).
 */
import type { Browser, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { describeWithBrowser, launchChromium, PAGE_WAIT } from '../helpers/chromium.js';
import { checkConsolePage as check, expectText, signInToConsole, VIEWPORTS } from '../helpers/console-browser.js';
import { createOrganization, createUser, organizationWithDomain } from '../helpers/setup.js';

const PASSWORD = 'Console-Browser-2026';

describeWithBrowser('the security-policy pages in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let orgId: string;
  let bareId: string;

  beforeAll(async () => {
    [browser, h] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' })]);
    orgId = await organizationWithDomain(h, 'Northwind', 'northwind.test');
    bareId = await createOrganization(h, 'Fabrikam');
    // The owners are not on the domains: the policies they save never lock them out of the console.
    for (const [email, org] of [['admin@owners.test', orgId], ['admin@fabrikam-owners.test', bareId]] as const) {
      const id = await createUser(h, email, PASSWORD);
      expect((await h.api('POST', `/organizations/${org}/members`, { userId: id, role: 'owner' })).status).toBe(200);
    }
    for (const email of ['ann@northwind.test', 'bob@northwind.test', 'cy@northwind.test']) await createUser(h, email, PASSWORD);
    await createUser(h, 'root@platform.test', PASSWORD);
    await h.app.services.accounts.setPlatformAdmin('root@platform.test', true);
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  async function withPage(email: string, path: string, run: (page: Page) => Promise<string[]>): Promise<void> {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    try {
      await signInToConsole(page, h.running.issuer, email, PASSWORD, path);
      await page.waitForURL(`${h.running.issuer}${path}`);
      expect(await run(page)).toEqual([]);
    } finally {
      await context.close();
    }
  }

  const submit = (page: Page, name: string) => Promise.all([page.waitForNavigation(), page.getByRole('button', { name, exact: true }).click()]);

  it('the editor, a field error, and the preview with the whitelist warning', async () => {
    await withPage('admin@owners.test', `/console/orgs/${orgId}/security-policies`, async (page) => {
      const problems = await check(page, 'policies');

      // The whitelist editor: an invalid entry is refused with a message; the own address is added with its button.
      await page.locator('#f-login-ipWhitelist-enabled').check();
      await page.getByLabel('Address or CIDR block').fill('10.0.0.300');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await expectText(page, 'Enter an IPv4 or IPv6 address, or a CIDR block');
      expect(await page.getByLabel('Address or CIDR block').getAttribute('aria-invalid')).toBe('true');
      await page.getByLabel('Address or CIDR block').fill('203.0.113.0/24');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await expectText(page, 'Added 203.0.113.0/24.');
      problems.push(...(await check(page, 'policies-whitelist')));
      await page.getByRole('button', { name: 'Add my address' }).click();
      const own = (await page.locator('.whitelist').getAttribute('data-own-address'))!;
      expect(await page.locator('#f-login-ipWhitelist-cidrs').inputValue()).toBe(`203.0.113.0/24\n${own}`);
      await page.getByRole('button', { name: `Remove ${own}` }).click();
      expect(await page.locator('#f-login-ipWhitelist-cidrs').inputValue()).toBe('203.0.113.0/24');

      // A field error (both fields valid alone, the pair not): next to the field, the values kept.
      await page.locator('#f-password-minLength').fill('20');
      await page.locator('#f-password-maxLength').fill('12');
      await submit(page, 'Preview changes');
      await expectText(page, 'must be greater than or equal to password.minLength');
      expect(await page.locator('#f-password-maxLength').getAttribute('aria-invalid')).toBe('true');
      problems.push(...(await check(page, 'policies-error')));

      await page.locator('#f-password-maxLength').fill('40');
      await page.locator('#f-authentication-enforce2fa').check();
      await submit(page, 'Preview changes');
      await expectText(page, '3 users must enroll a second factor');
      await expectText(page, 'The IP whitelist does not include your current address');
      problems.push(...(await check(page, 'policies-preview')));
      // The confirmation is required: the browser does not submit without it.
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      expect(page.url()).toContain('/security-policies/preview');
      await page.getByLabel(/I understand I will lose access from/).check();
      await submit(page, 'Save');
      await expectText(page, 'Saved');
      return problems;
    });
    const { body } = await h.api('GET', `/organizations/${orgId}/security-policy`);
    expect(body.policy).toMatchObject({ password: { minLength: 20, maxLength: 40 }, authentication: { enforce2fa: true }, login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } });
  }, 120_000);

  it('the not-in-force state', async () => {
    await withPage('admin@fabrikam-owners.test', `/console/orgs/${bareId}/security-policies`, async (page) => {
      await expectText(page, 'These policies are not in force.');
      return check(page, 'policies-not-in-force');
    });
  }, 60_000);

  it('the baseline page, for a platform admin', async () => {
    await withPage('root@platform.test', '/console/platform/baseline-policy', async (page) => {
      await expectText(page, 'The baseline policy governs every user');
      await page.locator('summary').click();
      const problems = await check(page, 'policies-baseline');
      await page.locator('#f-session-webIdleTimeoutMinutes-set').check();
      await page.locator('#f-session-webIdleTimeoutMinutes').fill('30');
      await submit(page, 'Preview changes');
      await expectText(page, 'Review the baseline policy');
      problems.push(...(await check(page, 'policies-baseline-review')));
      return problems;
    });
  }, 60_000);
});
