/**
 * Passkeys in a real Chromium with CDP virtual authenticators (test/helpers/virtual-authenticator.ts):
 * enrollment under enforcement, password-less sign-in, password + passkey, a cloned credential, a
 * security key without resident keys or user verification, and a recovery code when the authenticator
 * is gone. Every sign-in ends at the client's callback and the code is exchanged for the ID token,
 * whose `amr` says how the user signed in. On an http://localhost issuer (WebAuthn refuses IP origins).
 */
import { generate } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, screenshot, screenshotLook, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { clock } from '../helpers/clock.js';
import { addVirtualAuthenticator, cloneCredential, type VirtualAuthenticator, type VirtualCredential } from '../helpers/virtual-authenticator.js';

const PASSWORD = 'Passkey-Browser-1';
const CALLBACK_TIMEOUT = PAGE_WAIT;

describeWithBrowser('passkeys in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  let web: TestClient;
  const contexts: BrowserContext[] = [];
  let n = 0;

  beforeAll(async () => {
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({}, { host: 'localhost' }), startLoopbackRp()]);
    web = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback });
    const orgId = await organizationWithDomain(h, 'Keys Co', 'keys.example');
    await putPolicy(h, orgId, { authentication: { enforce2fa: true } });
  });
  afterAll(async () => {
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  /** A fresh browser profile (no cookies) with a page and, optionally, an authenticator plugged in. */
  async function device(kind?: 'passkey' | 'u2f'): Promise<{ page: Page; key?: VirtualAuthenticator }> {
    const context = await browser.newContext(screenshotLook().contextOptions);
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(CALLBACK_TIMEOUT);
    const key = kind ? await addVirtualAuthenticator(page, { kind }) : undefined;
    return { page, key };
  }

  const authorize = (page: Page) => authorizeInPage(page, web, rp);

  async function typePassword(page: Page, email: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** Enrolls a passkey through the pages under enforcement; returns the recovery codes shown and the credentials. */
  async function enrollPasskey(email: string, kind: 'passkey' | 'u2f' = 'passkey') {
    const { page, key } = await device(kind);
    const flow = await authorize(page);
    await typePassword(page, email);
    await page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
    await screenshot(page, 'enroll-choice');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await arrived(page, 'Save your recovery codes');
    const codes = (await page.locator('ul.codes code').allTextContents()).map((c) => c.trim());
    await screenshot(page, 'enroll-passkey-recovery-codes');
    await page.getByRole('button', { name: /saved them/ }).click();
    const claims = await flow.finish();
    return { claims, codes, credentials: await key!.credentials(), page, key: key! };
  }

  /** Waits for the page with this heading; a failure names what the page said instead (the ceremony's status, errors). */
  async function arrived(page: Page, heading: string) {
    try {
      await page.getByRole('heading', { name: heading }).waitFor({ timeout: PAGE_WAIT });
    } catch {
      const said = await page.locator('[data-passkey-status], #form-errors, p.lead').allTextContents();
      throw new Error(`expected "${heading}" at ${page.url()}; the page says: ${said.join(' | ')}`);
    }
  }

  /** Clicks and waits for the page it leads to; a failure names what the page said instead. */
  async function clickThrough(page: Page, button: ReturnType<Page['getByRole']>, arrivedAt: (u: URL) => boolean) {
    try {
      await Promise.all([page.waitForURL(arrivedAt, { timeout: PAGE_WAIT }), button.click()]);
    } catch (err) {
      const said = await page.locator('[data-passkey-status], #form-errors').allTextContents();
      throw new Error(`${(err as Error).message.split('\n')[0]} at ${page.url()}; the page says: ${said.join(' | ')}`);
    }
  }

  /** A new device holding copies of these credentials (the same passkey on the next visit). */
  async function deviceWith(credentials: VirtualCredential[], kind: 'passkey' | 'u2f' = 'passkey', options: { conditionalUi?: boolean } = {}) {
    const d = await device(kind);
    // A browser without conditional UI (passkeys in the email field's autofill): the explicit button is the way in.
    if (options.conditionalUi === false) await d.page.addInitScript('delete window.PublicKeyCredential.isConditionalMediationAvailable');
    await plugIn(d.key!, credentials);
    return d;
  }

  /** Puts copies of the credentials on an authenticator (non-resident ones do not carry their RP ID). */
  async function plugIn(key: VirtualAuthenticator, credentials: VirtualCredential[]) {
    for (const c of credentials) await key.addCredential({ ...c, rpId: c.rpId ?? 'localhost' });
  }

  const accountId = async (email: string) => ((await h.app.services.db('accounts').where({ email }).first('id')) as { id: string }).id;

  const user = async () => {
    const email = `p${++n}@keys.example`;
    await createUser(h, email, PASSWORD);
    return email;
  };

  it('under enforcement, "Add a passkey" is offered first; it enrolls, shows recovery codes once, and the ID token says pwd + hwk + mfa', async () => {
    const email = await user();
    const { claims, codes, credentials } = await enrollPasskey(email);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(codes).toHaveLength(10);
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    const factors = await h.app.services.twoFactor.list(await accountId(email));
    expect(factors.map((f) => f.kind)).toEqual(['passkey']);
  });

  it('signs in with the passkey alone ("Sign in with a passkey", no email, no password): amr hwk + mfa', async () => {
    const email = await user();
    const { credentials } = await enrollPasskey(email);
    const { page } = await deviceWith(credentials, 'passkey', { conditionalUi: false });
    const flow = await authorize(page);
    await screenshot(page, 'sign-in-with-passkey');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const claims = await flow.finish();
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.email).toBe(email);
  });

  it('conditional UI: where the browser offers passkeys in the email field, the sign-in page asks for one as it loads', async () => {
    const email = await user();
    const { credentials } = await enrollPasskey(email);
    // Chromium's virtual authenticator answers a conditional request at once, as a user picking the passkey would.
    const { page } = await deviceWith(credentials);
    const flow = await authorize(page);
    expect((await flow.finish()).amr).toEqual(['hwk', 'mfa']);
  });

  it('after the password, a user with a passkey is offered it first: amr pwd + hwk + mfa', async () => {
    const email = await user();
    const { credentials } = await enrollPasskey(email);
    // The authenticator is plugged in after the sign-in page (else conditional UI would sign in without the password).
    const { page, key } = await device('passkey');
    const flow = await authorize(page);
    await typePassword(page, email);
    await plugIn(key!, credentials);
    await page.getByRole('button', { name: 'Use your passkey' }).waitFor();
    await screenshot(page, 'second-step-passkey');
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    expect((await flow.finish()).amr).toEqual(['pwd', 'hwk', 'mfa']);
  });

  it('refuses a cloned credential (its signature counter went backwards), and the real one still works', async () => {
    const email = await user();
    const { credentials } = await enrollPasskey(email);
    // The original signs once more after enrollment, so the copy's counter is behind it.
    const original = await deviceWith(credentials);
    const first = await authorize(original.page);
    expect((await first.finish()).amr).toEqual(['hwk', 'mfa']);

    const thief = await device('passkey');
    await cloneCredential(original.key!, thief.key!, { signCount: 1 });
    await authorize(thief.page); // conditional UI uses the copy as the page loads
    await expect(thief.page.locator('#form-errors').textContent()).resolves.toMatch(/may have been copied/);
    expect(thief.page.url().startsWith(`${h.running.issuer}/interaction/`)).toBe(true);
    const refused = await h.app.services.db('audit_events').where({ type: 'sign_in.failed', target_id: await accountId(email) });
    expect(refused.map((e) => JSON.parse(String(e.data)).reason)).toContain('passkey-cloned');

    const later = await deviceWith(await original.key!.credentials()); // a new browser: no session to ride on
    const again = await authorize(later.page);
    expect((await again.finish()).amr).toEqual(['hwk', 'mfa']);
  });

  it('a security key without resident keys or user verification works as the second factor (not alone)', async () => {
    const email = await user();
    const { claims, credentials } = await enrollPasskey(email, 'u2f');
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(credentials[0]!.isResidentCredential).toBe(false);

    const { page } = await deviceWith(credentials, 'u2f');
    const flow = await authorize(page);
    await typePassword(page, email);
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    expect((await flow.finish()).amr).toEqual(['pwd', 'hwk', 'mfa']);
  });

  it('when the authenticator is gone, a recovery code completes the second step: amr pwd + otp + mfa', async () => {
    const email = await user();
    const { codes } = await enrollPasskey(email);
    const { page } = await device(); // no authenticator at all
    const flow = await authorize(page);
    await typePassword(page, email);
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByLabel('Recovery code').fill(codes[0]!);
    await screenshot(page, 'recovery-code');
    await page.getByRole('button', { name: 'Verify' }).click();
    expect((await flow.finish()).amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('on /account/security: rename, add a second (a security key), remove one; the last one stays under enforcement; after 5 minutes the password is asked again', async () => {
    const email = await user();
    const { page, key } = await enrollPasskey(email);
    await page.goto(`${h.running.issuer}/account/security`);
    const list = page.locator('ul.factors li');
    await expect(list.count()).resolves.toBe(1);
    await expect(list.first().textContent()).resolves.toMatch(/Passkey on one device/);

    await list.first().getByRole('textbox').fill('Work laptop');
    await clickThrough(page, list.first().getByRole('button', { name: 'Rename' }), (u) => u.searchParams.get('done') === 'renamed');
    await expect(page.locator('p.notice').textContent()).resolves.toBe('Passkey renamed.');
    await expect(list.first().textContent()).resolves.toMatch(/Work laptop/);

    // Another authenticator (Chromium would use the first, which holds an excluded credential).
    await key.remove();
    await addVirtualAuthenticator(page, { kind: 'u2f' });
    await page.getByLabel('Name for the new passkey (optional)').fill('Blue key');
    await clickThrough(page, page.getByRole('button', { name: 'Add a new passkey' }), (u) => u.searchParams.get('done') === 'added');
    await expect(page.locator('p.notice').textContent()).resolves.toMatch(/Passkey added/);
    // Both were added within the same second: the list's order between them is not asserted.
    const listed = (await list.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim()).sort();
    expect(listed).toEqual([expect.stringMatching(/^Blue key · Security key/), expect.stringMatching(/^Work laptop · Passkey on one device/)]);
    await screenshot(page, 'account-passkeys');

    await clickThrough(page, page.getByRole('button', { name: 'Remove Work laptop' }), (u) => u.searchParams.get('done') === 'removed');
    await expect(page.locator('p.notice').textContent()).resolves.toMatch(/Passkey removed/);
    await expect(list.count()).resolves.toBe(1);
    // The last factor under enforcement: not offered, and refused when posted anyway.
    await expect(page.getByRole('button', { name: 'Remove Blue key' }).count()).resolves.toBe(0);
    await expect(page.getByText('add another passkey or an authenticator app before you remove this one').isVisible()).resolves.toBe(true);
    const [blue] = await h.app.services.twoFactor.list(await accountId(email));
    const csrf = (await page.locator('input[name=csrf]').first().getAttribute('value'))!;
    const forced = await page.request.post(`${h.running.issuer}/account/passkeys/${blue!.id}/remove`, { form: { csrf }, maxRedirects: 0 });
    expect(forced.status()).toBe(409);
    expect(await forced.text()).toMatch(/requires two-step verification/);
    expect((await h.app.services.twoFactor.list(await accountId(email))).map((f) => f.label)).toEqual(['Blue key']);

    clock.install();
    try {
      clock.advance(6 * 60);
      await page.goto(`${h.running.issuer}/account/security`);
      await expect(page.getByRole('button', { name: 'Add a new passkey' }).count()).resolves.toBe(0);
      // Not only hidden: the server refuses a ceremony for a sign-in older than 5 minutes.
      const stale = await page.request.post(`${h.running.issuer}/account/passkeys/options`, { form: { csrf } });
      expect(stale.status()).toBe(403);
      await page.getByRole('textbox', { name: 'Your password', exact: true }).fill(PASSWORD);
      await clickThrough(page, page.getByRole('button', { name: 'Confirm with password' }), (u) => u.searchParams.get('done') === 'confirmed');
      await expect(page.locator('p.notice').textContent()).resolves.toMatch(/^Confirmed\./);
      await expect(page.getByRole('button', { name: 'Add a new passkey' }).count()).resolves.toBe(1);
    } finally {
      clock.uninstall();
    }
  });

  it('without JavaScript: the passkey buttons are disabled and say why; the password and the authenticator app still work', async () => {
    const email = await user();
    const context = await browser.newContext({ ...screenshotLook().contextOptions, javaScriptEnabled: false });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(CALLBACK_TIMEOUT);
    const flow = await authorize(page);
    await expect(page.getByRole('button', { name: 'Sign in with a passkey' }).isDisabled()).resolves.toBe(true);
    await expect(page.getByText('Signing in with a passkey needs JavaScript.').isVisible()).resolves.toBe(true);
    await screenshot(page, 'sign-in-no-js');
    await typePassword(page, email);
    await expect(page.getByRole('button', { name: 'Add a passkey' }).isDisabled()).resolves.toBe(true);
    await expect(page.getByText('Adding a passkey needs JavaScript.', { exact: false }).isVisible()).resolves.toBe(true);
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    const secret = (await page.locator('code.secret').textContent())!.replace(/\s/g, '');
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: /saved them/ }).click();
    expect((await flow.finish()).amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});
