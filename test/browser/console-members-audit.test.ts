/**
 * The Members and Audit trail pages in Chromium: the members page, a confirmation page, a refusal (the
 * last owner stays), and the audit trail with a policy diff, filtered through its form. Each page is
 * checked with axe, for sideways scrolling, and photographed (console-members*, console-audit*).
 */
import type { Browser } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { describeWithBrowser, launchChromium, PAGE_WAIT } from '../helpers/chromium.js';
import { checkConsolePage as check, expectText, signInToConsole, VIEWPORTS } from '../helpers/console-browser.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';

const PASSWORD = 'Console-Browser-2026';

describeWithBrowser('the members and audit pages in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let orgId: string;

  beforeAll(async () => {
    [browser, h] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' })]);
    orgId = await organizationWithDomain(h, 'Northwind', 'northwind.test');
    for (const [email, role] of [['owner@northwind.test', 'owner'], ['ada.lovelace@northwind.test', 'admin'], ['grace@northwind.test', 'member']] as const) {
      const id = await createUser(h, email, PASSWORD, { name: email.split('@')[0] });
      expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: id, role })).status).toBe(200);
    }
    await createUser(h, 'new.hire@northwind.test', PASSWORD);
    await createUser(h, 'root@platform.test', PASSWORD);
    expect((await h.app.services.accounts.setPlatformAdmin('root@platform.test', true)).changed).toBe(true);
    await putPolicy(h, orgId, { password: { minLength: 12, requireSpecial: true }, session: { webTimeoutHours: 8 } });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('members: the page, a confirmation, a refusal; audit: the trail with a policy diff, filtered', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    const problems: string[] = [];
    const base = `${h.running.issuer}/console/orgs/${orgId}`;
    try {
      await signInToConsole(page, h.running.issuer, 'owner@northwind.test', PASSWORD, `/console/orgs/${orgId}/members`);
      await page.waitForURL(`${base}/members`);
      await expectText(page, 'ada.lovelace@northwind.test');
      problems.push(...(await check(page, 'members')));

      await page.locator('#add-email').fill('new.hire@northwind.test');
      await page.locator('#add-role').selectOption('admin');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
      await expectText(page, 'new.hire@northwind.test will be a member of this organization with the role Admin.');
      problems.push(...(await check(page, 'members-confirm-add')));
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Add', exact: true }).click()]);
      await expectText(page, 'The member is added.');

      // The only owner demotes themself: refused, in plain words.
      const ownerForm = page.locator('section[aria-labelledby="group-owner"] form.member-role').first();
      await ownerForm.locator('select').selectOption('admin');
      await Promise.all([page.waitForNavigation(), ownerForm.getByRole('button', { name: 'Change role…' }).click()]);
      await expectText(page, 'owner@northwind.test: Owner → Admin');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change the role' }).click()]);
      await expectText(page, 'The last owner of an organization cannot be removed or demoted');
      problems.push(...(await check(page, 'members-refused')));

      await page.goto(`${base}/audit`);
      await expectText(page, 'Minimum password length: 8 → 12');
      problems.push(...(await check(page, 'audit')));

      await page.locator('#filter-type').selectOption('organization.member_set');
      await page.locator('#filter-user').fill('new.hire@northwind.test');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Filter' }).click()]);
      expect(new URL(page.url()).searchParams.get('type')).toBe('organization.member_set');
      await expectText(page, 'By owner@northwind.test');
      expect(await page.locator('.audit-events > li').count()).toBe(1);
      problems.push(...(await check(page, 'audit-filtered')));
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  });

  it('a platform admin: the whole platform trail', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    try {
      await signInToConsole(page, h.running.issuer, 'root@platform.test', PASSWORD, '/console/platform/audit');
      await page.waitForURL(`${h.running.issuer}/console/platform/audit`);
      await expectText(page, 'Organization: Northwind');
      expect(await check(page, 'audit-platform')).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
