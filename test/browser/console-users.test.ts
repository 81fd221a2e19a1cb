/**
 * The console's Users pages in Chromium: the list with results, a filtered search with none, a user's
 * page, a confirmation page and the invite form, each checked with axe, for sideways scrolling, and
 * photographed (screenshots/console-users*).
 */
import type { Browser } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { describeWithBrowser, launchChromium, PAGE_WAIT } from '../helpers/chromium.js';
import { checkConsolePage as check, expectText, signInToConsole, VIEWPORTS } from '../helpers/console-browser.js';
import { createUser, organizationWithDomain } from '../helpers/setup.js';

const PASSWORD = 'Console-Browser-2026';

describeWithBrowser('the console\'s Users pages in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let orgId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [browser, h] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' })]);
    orgId = await organizationWithDomain(h, 'Northwind', 'northwind.test');
    const people: Array<[string, string | undefined]> = [
      ['owner@northwind.test', 'Olivia Owner'],
      ['ann.archer-with-a-rather-long-address@northwind.test', 'Ann Archer'],
      ['bob@northwind.test', 'Bob Baker'],
      ['cara@northwind.test', undefined],
    ];
    for (const [email, name] of people) ids[email] = await createUser(h, email, PASSWORD, name ? { name } : {});
    expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: ids['owner@northwind.test'], role: 'owner' })).status).toBe(200);
    // Bob is locked and has an expiring password, so the list and his page show those states.
    const now = Math.floor(Date.now() / 1000);
    await h.app.services.db('accounts').where({ id: ids['bob@northwind.test'] }).update({ failed_attempts: 5, locked_until: now + 900 });
    expect((await h.api('POST', `/users/${ids['cara@northwind.test']}/disable`)).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it('list, empty search, a user\'s page, a confirmation page, the invite form: every page passes axe', async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    const base = `${h.running.issuer}/console/orgs/${orgId}/users`;
    const problems: string[] = [];
    try {
      await signInToConsole(page, h.running.issuer, 'owner@northwind.test', PASSWORD, `/console/orgs/${orgId}/users`);
      await page.waitForURL(base);
      await expectText(page, 'bob@northwind.test');
      problems.push(...(await check(page, 'users-list')));

      await page.locator('#q').fill('nobody');
      await page.getByLabel('Locked').check();
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Search', exact: true }).click()]);
      expect(page.url()).toBe(`${base}?q=nobody&locked=true`);
      await expectText(page, 'No account matches this search.');
      problems.push(...(await check(page, 'users-empty')));

      await page.goto(base);
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'bob@northwind.test' }).click()]);
      await expectText(page, 'Locked until');
      problems.push(...(await check(page, 'users-user')));

      // Ann signs in in her own browser (the console refuses her, a member of nothing, but her session is real).
      const annContext = await browser.newContext({ viewport: VIEWPORTS[0] });
      await signInToConsole(await annContext.newPage(), h.running.issuer, 'ann.archer-with-a-rather-long-address@northwind.test', PASSWORD);
      await annContext.close();
      await page.goto(`${base}/${ids['ann.archer-with-a-rather-long-address@northwind.test']}`);
      await expectText(page, 'Browsers signed in: 1.');
      problems.push(...(await check(page, 'users-user-session')));

      await page.goto(`${base}/${ids['bob@northwind.test']}`);
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Send a password reset' }).click()]);
      await expectText(page, 'They receive an email with a link to choose a new password');
      problems.push(...(await check(page, 'users-confirm')));

      await page.goto(base);
      await page.locator('#invite-email').fill('someone@elsewhere.test');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send the invitation' }).click()]);
      await expectText(page, 'Gatehouse refused this');
      problems.push(...(await check(page, 'users-invite-refused')));

      await page.locator('#invite-email').fill('nina@northwind.test');
      await page.locator('#invite-name').fill('Nina New');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Send the invitation' }).click()]);
      await expectText(page, 'An invitation was emailed to nina@northwind.test.');
      problems.push(...(await check(page, 'users-invited')));
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  }, 180_000);
});
