import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { authorizationUrl, registerClient, RP, signIn, type TestClient } from '../helpers/oidc.js';
import { organizationWithDomain, verifyDomain } from '../helpers/setup.js';

const PASSWORD = 'Session-Pass-1';
const H = 3600;
let h: AdminHarness;
let orgId: string;
let web: TestClient;
let mobile: TestClient;
let backchannel: Server;
const logoutTokens: string[] = [];
let n = 0;

beforeAll(async () => {
  backchannel = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => backchannel.listen(0, '127.0.0.1', r));
  // The relying party listens on loopback, a special-use address back-channel logout reaches only when allowed.
  h = await startAdminHarness({ BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '127.0.0.1' });
  const port = (backchannel.address() as AddressInfo).port;
  web = await registerClient(h.app, h.running.issuer, { backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel` });
  mobile = await registerClient(h.app, h.running.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  orgId = await organizationWithDomain(h, 'Sessions', 'sessions.example');
});
afterAll(async () => {
  await h.stop();
  await new Promise((r) => backchannel.close(r));
});

const setSession = async (session: object) =>
  expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { session } })).status).toBe(200);

async function user() {
  const email = `s${++n}@sessions.example`;
  expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
  return email;
}

const signInMobile = (browser: Browser, email: string) => signIn(browser, mobile, email, PASSWORD, { redirect_uri: 'http://127.0.0.1:8999/callback' });

/** Seconds from now until the refresh token expires, as introspection reports it. */
async function refreshTokenLife(c: TestClient, refreshToken: string) {
  const info = await client.tokenIntrospection(c.config, refreshToken);
  expect(info.active).toBe(true);
  return (info.exp as number) - Math.floor(Date.now() / 1000);
}

/** The browser's session cookie, as the server set it. */
async function sessionCookie(browser: Browser) {
  const cookies = await browser.jar.getCookies(h.running.issuer);
  return cookies.find((c) => c.key === '_session');
}

const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(5);

describe('session lifetimes from the policy', () => {
  it('web: the session and refresh tokens end webTimeoutHours after sign-in, rotation or not', async () => {
    await setSession({ webTimeoutHours: 2 });
    const email = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, email, PASSWORD);
    near(await refreshTokenLife(web, tokens.refresh_token!), 2 * H);
    const cookie = await sessionCookie(browser);
    near((cookie!.expires as Date).getTime() / 1000 - Date.now() / 1000, 2 * H);
    const rotated = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    near(await refreshTokenLife(web, rotated.refresh_token!), 2 * H); // still from the sign-in
  });

  it('web: after webIdleTimeoutMinutes without activity', async () => {
    await setSession({ webTimeoutHours: 8, webIdleTimeoutMinutes: 30 });
    const email = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, email, PASSWORD);
    near(await refreshTokenLife(web, tokens.refresh_token!), 30 * 60);
    near(((await sessionCookie(browser))!.expires as Date).getTime() / 1000 - Date.now() / 1000, 30 * 60);
  });

  it('mobile and desktop: their expiry when set, the platform ceiling when disabled', async () => {
    await setSession({ mobileExpiryHours: 5 });
    const email = await user();
    const { tokens } = await signInMobile(new Browser(), email);
    near(await refreshTokenLife(mobile, tokens.refresh_token!), 5 * H);
    await setSession({ mobileExpiryHours: null });
    const { tokens: unlimited } = await signInMobile(new Browser(), email);
    near(await refreshTokenLife(mobile, unlimited.refresh_token!), 8760 * H);
  });

  it('expireCookieOnBrowserClose makes the session cookie a browser-session cookie', async () => {
    await setSession({ expireCookieOnBrowserClose: true });
    const browser = new Browser();
    await signIn(browser, web, await user(), PASSWORD);
    const cookie = await sessionCookie(browser);
    expect(cookie).toBeDefined();
    expect(cookie!.expires).toBe('Infinity'); // no Expires and no Max-Age
    await setSession({ expireCookieOnBrowserClose: false });
    const other = new Browser();
    await signIn(other, web, await user(), PASSWORD);
    expect((await sessionCookie(other))!.expires).toBeInstanceOf(Date);
  });

  it('a revoked claim returns the user to the baseline lifetimes at the next refresh', async () => {
    await setSession({ webTimeoutHours: 2 });
    const email = await user();
    const { tokens } = await signIn(new Browser(), web, email, PASSWORD);
    near(await refreshTokenLife(web, tokens.refresh_token!), 2 * H);
    await h.api('DELETE', `/organizations/${orgId}/domains/sessions.example`);
    try {
      const refreshed = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
      near(await refreshTokenLife(web, refreshed.refresh_token!), 24 * H);
    } finally {
      await verifyDomain(h, orgId, 'sessions.example');
    }
  });
});

describe('preventConcurrentWebSessions', () => {
  it('a new web sign-in ends the other web sessions, revokes their refresh tokens and tells their clients', async () => {
    await setSession({ preventConcurrentWebSessions: true });
    const email = await user();
    const first = new Browser();
    const { tokens: firstTokens } = await signIn(first, web, email, PASSWORD);
    const sub = (await client.tokenIntrospection(web.config, firstTokens.access_token)).sub;
    const phone = new Browser();
    const { tokens: mobileTokens } = await signInMobile(phone, email);
    const before = logoutTokens.length;

    const second = new Browser();
    const { tokens: secondTokens } = await signIn(second, web, email, PASSWORD);
    await expect(client.refreshTokenGrant(web.config, firstTokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await client.refreshTokenGrant(web.config, secondTokens.refresh_token!)).access_token).toBeTruthy();
    expect((await client.refreshTokenGrant(mobile.config, mobileTokens.refresh_token!)).access_token).toBeTruthy(); // not a web client

    // The first browser's session is gone: it is asked to sign in again.
    const again = await first.follow(
      await authorizationUrl(web),
      (u) => u.startsWith(RP),
    );
    expect('html' in again && again.html).toContain('autocomplete="current-password"');

    // Its relying party got a back-channel logout token it can verify with the JWKS.
    expect(logoutTokens.length).toBe(before + 1);
    const { payload } = await jwtVerify(logoutTokens[before]!, createRemoteJWKSet(new URL(`${h.running.issuer}/jwks`)), {
      issuer: h.running.issuer,
      audience: web.clientId,
    });
    expect(payload).toMatchObject({ sub, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    expect(typeof payload.sid).toBe('string');
  });

  it('when off, web sessions live side by side', async () => {
    await setSession({ preventConcurrentWebSessions: false });
    const email = await user();
    const { tokens } = await signIn(new Browser(), web, email, PASSWORD);
    await signIn(new Browser(), web, email, PASSWORD);
    expect((await client.refreshTokenGrant(web.config, tokens.refresh_token!)).access_token).toBeTruthy();
  });
});
