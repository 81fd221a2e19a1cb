/**
 * Sessions and devices in a real Chromium, against Gatehouse in its own process (where back-channel
 * logout is delivered as in production, test/sessions/backchannel-logout.test.ts): two browsers signed
 * in to one account through a web app that registered a back-channel logout URI, both listed on
 * /account/sessions; one ends the other. The other's app loses its refresh token and its back-channel
 * listener receives a logout token, signed by Gatehouse, for that session's sid.
 */
import * as oidcClient from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeWithBrowser, launchChromium, screenshot, screenshotLook, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { LogoutListener } from '../helpers/logout-listener.js';
import { startGatehouseProcess, type GatehouseProcess } from '../helpers/process.js';

const PASSWORD = 'Two-Browsers-Pass-1';
const EMAIL = 'two.browsers@example.com';
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describeWithBrowser('sessions and devices in Chromium', () => {
  let gh: GatehouseProcess;
  let browser: Browser;
  let rp: LoopbackRp;
  let listener: LogoutListener;
  let app: { clientId: string; config: oidcClient.Configuration };
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [gh, browser, rp, listener] = await Promise.all([
      startGatehouseProcess({ BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '127.0.0.1/32' }),
      launchChromium(),
      startLoopbackRp(),
      new LogoutListener().start('127.0.0.1'),
    ]);
    // Two browsers side by side: a new web sign-in must not end the other one by itself.
    const baseline = await gh.api('PUT', '/baseline-policy', { policy: { session: { preventConcurrentWebSessions: false } } });
    expect(baseline.status).toBe(200);
    expect((await gh.api('POST', '/users', { email: EMAIL, password: PASSWORD })).status).toBe(201);
    const created = await gh.api('POST', '/clients', {
      client_name: 'Team Wiki',
      session_type: 'web',
      redirect_uris: [rp.callback],
      backchannel_logout_uri: listener.uri,
    });
    expect(created.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = created.body as { client_id: string; client_secret: string };
    const config = await oidcClient.discovery(new URL(gh.issuer), clientId, secret, oidcClient.ClientSecretBasic(secret), { execute: [oidcClient.allowInsecureRequests] });
    app = { clientId, config };
  });
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await Promise.all([rp?.stop(), listener?.stop(), gh?.stop()]);
  });

  /** A fresh browser profile, signed in to the app through the real pages; returns its page and the app's tokens. */
  async function signedInBrowser(email = EMAIL) {
    const context = await browser.newContext(screenshotLook().contextOptions);
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(PAGE_WAIT);
    const verifier = oidcClient.randomPKCECodeVerifier();
    const state = oidcClient.randomState();
    const url = oidcClient.buildAuthorizationUrl(app.config, {
      redirect_uri: rp.callback,
      scope: 'openid email offline_access',
      prompt: 'consent',
      code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    await page.goto(url.href);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(rp.callback));
    const tokens = await oidcClient.authorizationCodeGrant(app.config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    return { page, tokens, idToken: decodeJwt(tokens.id_token!) };
  }

  const sessionItems = (page: Page) => page.locator('li[data-session]');

  it('two browsers see each other; one ends the other, whose app loses its refresh token and is told through back-channel logout', async () => {
    const laptop = await signedInBrowser();
    const phone = await signedInBrowser();

    // Both browsers are listed on each, each marking itself.
    await phone.page.goto(`${gh.issuer}/account/sessions`);
    await expect(sessionItems(phone.page).count()).resolves.toBe(2);
    await laptop.page.goto(`${gh.issuer}/account/sessions`);
    await expect(sessionItems(laptop.page).count()).resolves.toBe(2);
    const here = laptop.page.locator('li[data-session][aria-current="true"]');
    await expect(here.textContent()).resolves.toContain('This device');
    await expect(here.textContent()).resolves.toContain('Team Wiki (Web app)');
    await expect(here.textContent()).resolves.toMatch(/Chrome \d+ on Linux/);
    await expect(here.textContent()).resolves.toContain('from 127.0.0.1');
    await screenshot(laptop.page, 'account-sessions');

    // The laptop signs the phone's browser out.
    const before = listener.tokens.length;
    const other = laptop.page.locator('li[data-session]:not([aria-current])');
    await Promise.all([laptop.page.waitForURL((u) => u.search === '?done=ended'), other.getByRole('button', { name: 'Sign out of this browser' }).click()]);
    await expect(laptop.page.getByRole('status').textContent()).resolves.toContain('That session was signed out.');
    await expect(sessionItems(laptop.page).count()).resolves.toBe(1);
    await screenshot(laptop.page, 'account-sessions-ended');

    // The phone's app: its refresh token is dead, and its back-channel endpoint got a verifiable logout token for the phone's sid.
    await expect(oidcClient.refreshTokenGrant(app.config, phone.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(listener.tokens.length).toBe(before + 1);
    const { payload } = await jwtVerify(listener.tokens[before]!, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: app.clientId });
    expect(payload).toMatchObject({ sub: phone.idToken.sub, sid: phone.idToken.sid, events: { [LOGOUT_EVENT]: {} } });
    expect(payload.sid).not.toBe(laptop.idToken.sid);
    // The laptop's app is untouched.
    await oidcClient.refreshTokenGrant(app.config, laptop.tokens.refresh_token!);
    // The phone's browser is signed out of Gatehouse too.
    const response = await phone.page.goto(`${gh.issuer}/account/sessions`);
    expect(response!.status()).toBe(401);

    // The laptop's recent activity says what happened, in plain words.
    await laptop.page.goto(`${gh.issuer}/account/activity`);
    const items = laptop.page.locator('ul.activity li');
    await expect(items.first().textContent()).resolves.toContain('A session was signed out');
    await expect(laptop.page.locator('ul.activity').textContent()).resolves.toContain('Signed in to Team Wiki');
    await screenshot(laptop.page, 'account-activity');
    await laptop.page.goto(`${gh.issuer}/account/sessions?lang=vi`);
    await expect(laptop.page.locator('li[data-session]').first().textContent()).resolves.toContain('Thiết bị này');
    await screenshot(laptop.page, 'account-sessions-vi');
    await laptop.page.goto(`${gh.issuer}/account/activity?lang=vi`);
    await screenshot(laptop.page, 'account-activity-vi');
  });

  it('"sign out everywhere else" right after signing in ends every other browser, each app told through back-channel logout', async () => {
    const email = 'everywhere.else@example.com';
    expect((await gh.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    const laptop = await signedInBrowser(email);
    const others = [await signedInBrowser(email), await signedInBrowser(email)];
    await laptop.page.goto(`${gh.issuer}/account/sessions`);
    await expect(sessionItems(laptop.page).count()).resolves.toBe(3);
    const before = listener.tokens.length;
    await Promise.all([laptop.page.waitForURL((u) => u.search === '?done=others'), laptop.page.getByRole('button', { name: 'Sign out everywhere else' }).click()]);
    await expect(sessionItems(laptop.page).count()).resolves.toBe(1);
    await expect(laptop.page.locator('li[data-session][aria-current="true"]').count()).resolves.toBe(1);
    await screenshot(laptop.page, 'account-sessions-everywhere-else');

    const jwks = createRemoteJWKSet(new URL(`${gh.issuer}/jwks`));
    const sids = await Promise.all(listener.tokens.slice(before).map(async (t) => (await jwtVerify(t, jwks, { issuer: gh.issuer, audience: app.clientId })).payload.sid));
    expect(sids.sort()).toEqual(others.map((o) => o.idToken.sid).sort());
    for (const other of others) await expect(oidcClient.refreshTokenGrant(app.config, other.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await oidcClient.refreshTokenGrant(app.config, laptop.tokens.refresh_token!);
  });
});
