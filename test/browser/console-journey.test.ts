/**
 * The owner's journey of issue 11, end to end in Chromium, on whichever backend the run uses (SQLite, or
 * PostgreSQL + Redis), with a real DNS server on loopback:
 *
 * a platform admin (a person, made one the way the CLI does) creates an organization and makes a user its
 * owner; the owner signs in to the console, claims the domain, creates the TXT record in the DNS server,
 * verifies, sets minimum length 12 and enforced two-step verification, sees the preview ("3 users must
 * enroll"), saves; a user of the domain then has to enroll at sign-in; a user locked out by five failed
 * sign-ins is unlocked by the owner; the audit trail shows every step; revoking the claim shows the
 * policies as not in force.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { checkConsolePage, expectText, signInToConsole } from '../helpers/console-browser.js';
import { createUser } from '../helpers/setup.js';

const PASSWORD = 'Journey-Passw0rd-2026';

describeWithBrowser('the owner journey through the console', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  let web: TestClient;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' }), startLoopbackRp()]);
    web = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback });
    await createUser(h, 'root@platform.test', PASSWORD);
    // What `npx gatehouse user grant-platform-admin --email root@platform.test` does.
    await h.app.services.accounts.setPlatformAdmin('root@platform.test', true);
    // The future owner and two colleagues on the domain, none with a second factor: three must enroll.
    for (const email of ['owner@northwind.test', 'ann@northwind.test', 'bob@northwind.test']) await createUser(h, email, PASSWORD);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    return page;
  }
  const click = (page: Page, name: string, role: 'button' | 'link' = 'button') =>
    Promise.all([page.waitForNavigation(), page.getByRole(role, { name, exact: true }).first().click()]);
  const problems: string[] = [];

  it('a platform admin creates the organization and makes its owner; the owner claims, verifies, sets the policy, unlocks a user; the trail shows it all; revoking puts the policies out of force', async () => {
    // 1. The platform admin creates Northwind with owner@northwind.test as its owner.
    const root = await newPage();
    await signInToConsole(root, h.running.issuer, 'root@platform.test', PASSWORD);
    await root.waitForURL(/\/console\/platform\/organizations$/);
    await root.getByLabel('Name', { exact: true }).fill('Northwind');
    await root.getByLabel('Owner’s email address (optional)').fill('owner@northwind.test');
    await click(root, 'Create');
    await expectText(root, 'Open Northwind');
    const orgId = new URL(await root.getByRole('link', { name: 'Open Northwind' }).getAttribute('href') ?? '', h.running.issuer).pathname.split('/')[3]!;
    const org = `/console/orgs/${orgId}`;

    // 2. The owner signs in and lands on the Domain page; claims, creates the TXT record, verifies.
    const owner = await newPage();
    await signInToConsole(owner, h.running.issuer, 'owner@northwind.test', PASSWORD);
    await owner.waitForURL(`${h.running.issuer}${org}/domain`);
    await owner.locator('#domain').fill('northwind.test');
    await click(owner, 'Claim');
    const name = (await owner.locator('code[id="name-northwind.test"]').textContent())!;
    const value = (await owner.locator('code[id="value-northwind.test"]').textContent())!;
    h.dns.txt.set(name, [[value]]);
    await click(owner, 'Verify now');
    await expectText(owner, 'northwind.test is verified');

    // 3. Security Policies: minimum length 12, two-step verification enforced; the preview first.
    await click(owner, 'Security Policies', 'link');
    await owner.getByLabel('Minimum Password Length').fill('12');
    await owner.getByLabel('Enforce 2FA for the Whole Domain').check();
    await click(owner, 'Preview changes');
    await expectText(owner, '3 users must enroll a second factor');
    problems.push(...(await checkConsolePage(owner, 'journey-preview')));
    await click(owner, 'Save');
    await expectText(owner, 'Saved');
    expect(await owner.getByLabel('Minimum Password Length').inputValue()).toBe('12');
    expect(await owner.getByLabel('Enforce 2FA for the Whole Domain').isChecked()).toBe(true);

    // 4. Ann signs in to a web app: she has to set up two-step verification first.
    const ann = await newPage();
    await signInToApp(ann, 'ann@northwind.test', PASSWORD);
    await expectText(ann, 'Set up two-step verification');

    // 5. Bob fails five times and is locked; the owner finds him with the "Locked" filter and unlocks him.
    const bob = await newPage();
    for (let i = 0; i < 5; i++) await signInToApp(bob, 'bob@northwind.test', 'not-his-password-1');
    await signInToApp(bob, 'bob@northwind.test', PASSWORD);
    await expectText(bob, 'Too many failed sign-ins');
    await click(owner, 'Users', 'link');
    await owner.getByLabel('Locked', { exact: true }).check();
    await click(owner, 'Search');
    await click(owner, 'bob@northwind.test', 'link');
    await click(owner, 'Unlock', 'link');
    await click(owner, 'Unlock');
    await expectText(owner, 'The account is unlocked');
    await signInToApp(bob, 'bob@northwind.test', PASSWORD);
    await expectText(bob, 'Set up two-step verification');

    // 6. The audit trail: the claim, its verification, the policy change as a readable diff, the unlock.
    await click(owner, 'Audit trail', 'link');
    const trail = (await owner.locator('main').innerText()).replace(/\s+/g, ' ');
    const steps = ['Organization created', 'Member added or role changed', 'Domain claimed', 'Domain verified', 'Security policy changed', 'Minimum password length: 8 → 12', 'User unlocked', 'bob@northwind.test'];
    for (const step of steps) expect(trail).toContain(step);
    // Every change names who made it: the owner by address; the platform administrator by role only (their
    // address is not the organization's to read).
    expect(trail).toContain('By owner@northwind.test');
    expect(trail).toContain('By a platform administrator');
    expect(trail).not.toContain('root@platform.test');
    problems.push(...(await checkConsolePage(owner, 'journey-audit')));

    // 7. Revoking the claim: confirmed with its consequence; the Security Policies page says they are not in force.
    await click(owner, 'Domain', 'link');
    await click(owner, 'Revoke this claim', 'link');
    await expectText(owner, 'Your security policies will stop applying to 3 users');
    await click(owner, 'Revoke');
    await click(owner, 'Security Policies', 'link');
    await expectText(owner, 'These policies are not in force.');
    // Nothing was deleted: the policy is still there, ready for a new claim.
    expect(await owner.getByLabel('Minimum Password Length').inputValue()).toBe('12');
    expect(problems).toEqual([]);
  }, 240_000);

  /** Signs in to the web app: opens its authorization request (unless the sign-in page is already open) and submits the password form. */
  async function signInToApp(page: Page, email: string, password: string) {
    if (!(await page.locator('#password').count())) await authorizeInPage(page, web, rp);
    // After a wrong password the page keeps the email (a hidden field) and asks for the password again.
    if (await page.locator('#email').isEditable().catch(() => false)) await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await Promise.all([page.waitForNavigation(), page.locator('form[action$="/password"]:not([data-passkey]) button[type=submit]').click()]);
  }
});
