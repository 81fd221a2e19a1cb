/**
 * The sign-in pages in a real Chromium: typed into, submitted and redirected the way a person's browser
 * does it (JavaScript, cookies, form posts, redirects), against the whole application on an
 * http://localhost issuer. Skips loudly without Chromium (fails under REQUIRE_BROWSER=1 / CI).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, screenshot, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { addVirtualAuthenticator, cloneCredential } from '../helpers/virtual-authenticator.js';

const PASSWORD = 'Browser-Sign-In-1';

// The functions given to page.evaluate run in Chromium. The project compiles without the DOM library
// (server code must not see browser globals), so the few browser types used here are declared locally.
interface HTMLImageElement { complete: boolean; naturalWidth: number }
interface AuthenticatorAttestationResponse { attestationObject: ArrayBuffer; getAuthenticatorData(): ArrayBuffer; getTransports(): string[] }
interface AuthenticatorAssertionResponse { authenticatorData: ArrayBuffer }
interface PublicKeyCredential { id: string; response: unknown }
declare const navigator: { credentials: { create(options: object): Promise<unknown>; get(options: object): Promise<unknown> } };

describeWithBrowser('password sign-in in Chromium', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  let web: TestClient;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({}, { host: 'localhost' }), startLoopbackRp()]);
    web = await registerClient(h.app, h.running.issuer, { redirectUri: rp.callback });
    const orgId = await organizationWithDomain(h, 'Enforcing Co', 'enforcing.example');
    await putPolicy(h, orgId, { authentication: { enforce2fa: true } });
  });
  afterAll(async () => {
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT); // a missing element fails within the test's time, naming the locator
  });
  afterEach(() => context.close());

  const authorize = () => authorizeInPage(page, web, rp);

  async function typePassword(email: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  it('types email and password on the sign-in page, lands on the callback with a code, and the ID token says amr pwd', async () => {
    await createUser(h, 'person@plain.example', PASSWORD);
    const { verifier, state } = await authorize();
    expect(new URL(page.url()).origin).toBe(h.running.issuer);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toMatch(/sign in/i);
    await screenshot(page, 'sign-in');
    await typePassword('person@plain.example');
    await page.waitForURL((u) => u.href.startsWith(rp.callback));

    const callback = new URL(page.url());
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.searchParams.get('state')).toBe(state);
    expect(rp.received.map((u) => u.href)).toContain(callback.href);
    const tokens = await client.authorizationCodeGrant(web.config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    const claims = decodeJwt(tokens.id_token!);
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.iss).toBe(h.running.issuer);
    expect(tokens.claims()!.sub).toBe(claims.sub);
  });

  it('a wrong password shows the error on the page and stays there', async () => {
    await createUser(h, 'typo@plain.example', PASSWORD);
    await authorize();
    await page.getByLabel('Email').fill('typo@plain.example');
    await page.getByLabel('Password').fill(`${PASSWORD}x`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.locator('#form-errors').textContent()).resolves.toMatch(/\S/);
    expect(page.url().startsWith(`${h.running.issuer}/interaction/`)).toBe(true);
    await expect(page.getByLabel('Email').inputValue()).resolves.toBe('typo@plain.example');
  });

  it('under a policy that enforces 2FA, the password leads to the enrollment page with its QR code shown', async () => {
    await createUser(h, 'member@enforcing.example', PASSWORD);
    const callbacks = rp.received.length;
    await authorize();
    await typePassword('member@enforcing.example');
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    const qr = page.getByAltText('QR code for your authenticator app');
    await qr.waitFor({ state: 'visible', timeout: PAGE_WAIT });
    // The image really decoded and has a size on the page (not a broken image).
    expect(await qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    const box = await qr.boundingBox();
    expect(box!.width).toBeGreaterThan(100);
    await expect(page.locator('code.secret').textContent()).resolves.toMatch(/^[A-Z2-7\s]{16,}$/);
    await screenshot(page, 'enroll-totp');
    expect(page.url().startsWith(`${h.running.issuer}/interaction/`)).toBe(true);
    expect(rp.received).toHaveLength(callbacks);
  });
});

describeWithBrowser('the virtual authenticator helper', () => {
  let browser: Browser;
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    browser = await launchChromium();
    // A trivial page on localhost (a secure context, a valid RP ID) with nothing but WebAuthn calls.
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>WebAuthn smoke</title><h1>WebAuthn smoke</h1>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /**
   * navigator.credentials.create in the page (attestation 'direct'): the credential id (base64url),
   * its transports, the attestation format and the backup flags, or the error's name.
   */
  const create = (page: Page, opts: { residentKey: 'required' | 'discouraged'; userVerification: 'required' | 'discouraged' }) =>
    page.evaluate(async ({ residentKey, userVerification }) => {
      try {
        const cred = (await navigator.credentials.create({
          publicKey: {
            challenge: crypto.getRandomValues(new Uint8Array(32)),
            rp: { id: 'localhost', name: 'Smoke' },
            user: { id: new TextEncoder().encode('user-1'), name: 'user@example.com', displayName: 'User' },
            pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
            authenticatorSelection: { residentKey, userVerification },
            attestation: 'direct',
            timeout: 10_000,
          },
        })) as PublicKeyCredential;
        const response = cred.response as AuthenticatorAttestationResponse;
        const flags = new Uint8Array(response.getAuthenticatorData())[32]!;
        const fmt = new TextDecoder('latin1').decode(response.attestationObject).match(/fmt.(fido-u2f|packed|none)/)?.[1];
        return { id: cred.id, transports: response.getTransports(), fmt, backupEligible: (flags & 0x08) !== 0, backedUp: (flags & 0x10) !== 0 };
      } catch (e) {
        return { error: (e as Error).name };
      }
    }, opts);

  it('a passkey authenticator creates a resident, user-verified credential that getCredentials lists', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(origin);
    const passkey = await addVirtualAuthenticator(page, { kind: 'passkey' });
    expect(await passkey.credentials()).toEqual([]);
    const created = await create(page, { residentKey: 'required', userVerification: 'required' });
    expect(created).toMatchObject({ transports: ['internal'], fmt: 'packed', backupEligible: false, backedUp: false });
    const listed = await passkey.credentials();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });
    expect(Buffer.from(listed[0]!.credentialId, 'base64').toString('base64url')).toBe((created as { id: string }).id);

    // A signature bumps the counter the helper reads back.
    const before = listed[0]!.signCount;
    const got = await page.evaluate(async () => {
      const a = (await navigator.credentials.get({ publicKey: { challenge: new Uint8Array(32), rpId: 'localhost', userVerification: 'required' } })) as PublicKeyCredential;
      return a.id;
    });
    expect(got).toBe((created as { id: string }).id);
    expect((await passkey.credentials())[0]!.signCount).toBeGreaterThan(before);

    await passkey.removeAll();
    expect(await passkey.credentials()).toEqual([]);
    await passkey.remove();

    // backedUp: a synced (multi-device) passkey, flags BE and BS set.
    await addVirtualAuthenticator(page, { kind: 'passkey', backedUp: true });
    expect(await create(page, { residentKey: 'required', userVerification: 'required' })).toMatchObject({ backupEligible: true, backedUp: true });
    await context.close();
  });

  /** navigator.credentials.get in the page: the credential id and the counter in the authenticator data, or the error's name. */
  const get = (page: Page, userVerification: 'required' | 'discouraged') =>
    page.evaluate(async (uv) => {
      try {
        const a = (await navigator.credentials.get({
          publicKey: { challenge: crypto.getRandomValues(new Uint8Array(32)), rpId: 'localhost', userVerification: uv, timeout: 10_000 },
        })) as PublicKeyCredential;
        const data = new DataView((a.response as AuthenticatorAssertionResponse).authenticatorData);
        return { id: a.id, counter: data.getUint32(33), uv: (data.getUint8(32) & 0x04) !== 0 };
      } catch (e) {
        return { error: (e as Error).name };
      }
    }, userVerification);

  it('setUserVerified(false) makes a user-verifying sign-in fail; cloneCredential signs with a regressed counter', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(origin);
    const original = await addVirtualAuthenticator(page, { kind: 'passkey' });
    const created = (await create(page, { residentKey: 'required', userVerification: 'required' })) as { id: string };
    const first = await get(page, 'required');
    const second = await get(page, 'required');
    expect(first).toMatchObject({ id: created.id, uv: true });
    expect((second as { counter: number }).counter).toBeGreaterThan((first as { counter: number }).counter);

    await original.setUserVerified(false);
    expect(await get(page, 'required')).toEqual({ error: 'NotAllowedError' });
    expect(await get(page, 'discouraged')).toMatchObject({ id: created.id, uv: false });
    await original.setUserVerified(true);

    // The clone lives in another browser (context) and reports a counter the original already passed.
    const otherContext = await browser.newContext();
    const other = await otherContext.newPage();
    await other.goto(origin);
    const copy = await addVirtualAuthenticator(other, { kind: 'passkey' });
    const cloned = await cloneCredential(original, copy);
    expect(cloned.signCount).toBe(0);
    const byClone = await get(other, 'required');
    expect(byClone).toMatchObject({ id: created.id });
    expect((byClone as { counter: number }).counter).toBeLessThanOrEqual((second as { counter: number }).counter);
    await expect(cloneCredential(copy, original, { signCount: 5 })).rejects.toThrow(/would not regress/);
    await otherContext.close();
    await context.close();
  });

  it('a U2F authenticator cannot hold a resident key or verify the user', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(origin);
    const key = await addVirtualAuthenticator(page, { kind: 'u2f' });
    expect(await create(page, { residentKey: 'required', userVerification: 'discouraged' })).toEqual({ error: 'NotAllowedError' });
    expect(await create(page, { residentKey: 'discouraged', userVerification: 'required' })).toEqual({ error: 'NotAllowedError' });
    expect(await create(page, { residentKey: 'discouraged', userVerification: 'discouraged' })).toMatchObject({ transports: ['usb'], fmt: 'fido-u2f' });
    expect(await key.credentials()).toEqual([expect.objectContaining({ isResidentCredential: false })]);
    await context.close();
  });
});
