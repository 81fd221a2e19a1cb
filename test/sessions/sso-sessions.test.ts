import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { registerClient, RP, RP_CALLBACK, signIn, type TestClient } from '../helpers/oidc.js';

/**
 * Browser sessions reached through SSO: "prevent concurrent web sessions" holds whenever a web client
 * gets a grant through a browser session, not only after a fresh password; and a session whose account
 * was disabled ends at the next authorization request instead of failing it.
 */
const PASSWORD = 'Sso-Pass-1';
const MOBILE_CALLBACK = 'http://127.0.0.1:8999/callback';
let h: AdminHarness;
let orgId: string;
let web: TestClient;
let otherWeb: TestClient;
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
  h = await startAdminHarness({ BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '127.0.0.1' });
  const port = (backchannel.address() as AddressInfo).port;
  web = await registerClient(h.app, h.running.issuer, { backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel` });
  otherWeb = await registerClient(h.app, h.running.issuer);
  mobile = await registerClient(h.app, h.running.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  orgId = (await h.api('POST', '/organizations', { name: 'Sso' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'sso.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.sso.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/sso.example/verify`)).body.status).toBe('verified');
  expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { session: { preventConcurrentWebSessions: true } } })).status).toBe(200);
});
afterAll(async () => {
  await h.stop();
  await new Promise((r) => backchannel.close(r));
});

async function user() {
  const email = `u${++n}@sso.example`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/**
 * An authorization request for `c` in the browser, without a sign-in page: returns the code exchanged
 * for tokens, the error at the callback, or the page the browser stopped on.
 */
async function authorize(browser: Browser, c: TestClient, params: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(c.config, {
    redirect_uri: RP_CALLBACK,
    scope: 'openid offline_access',
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  const result = await browser.follow(url.href, (u) => u.startsWith(RP));
  if (!('redirectedTo' in result)) return { page: result as Page };
  const callback = new URL(result.redirectedTo);
  if (callback.searchParams.get('error')) return { error: callback.searchParams.get('error')! };
  const tokens = await client.authorizationCodeGrant(c.config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  return { tokens };
}

const refreshes = async (c: TestClient, refreshToken: string) => {
  try {
    return !!(await client.refreshTokenGrant(c.config, refreshToken)).access_token;
  } catch (err) {
    expect(err).toMatchObject({ error: 'invalid_grant' });
    return false;
  }
};

const concurrent = async (on: boolean) =>
  expect((await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { session: { preventConcurrentWebSessions: on } } })).status).toBe(200);

const isSignInPage = (r: { page?: Page }) => !!r.page && r.page.status === 200 && r.page.html.includes('autocomplete="current-password"');

describe('preventConcurrentWebSessions through SSO', () => {
  it('signing in on a mobile client, then reaching a web client by SSO, ends the other browser\'s web session and tells its app', async () => {
    const u = await user();
    const laptop = new Browser();
    const { tokens: laptopTokens } = await signIn(laptop, web, u.email, PASSWORD);
    const sub = (await client.tokenIntrospection(web.config, laptopTokens.access_token)).sub;

    // The phone signs in through a mobile client: not a web sign-in, the laptop's session stays.
    const phone = new Browser();
    const { tokens: mobileTokens } = await signIn(phone, mobile, u.email, PASSWORD, { redirect_uri: MOBILE_CALLBACK });
    const laptopRefresh = (await client.refreshTokenGrant(web.config, laptopTokens.refresh_token!)).refresh_token!;
    const before = logoutTokens.length;

    // Then the phone's browser reaches a web client through its session: no password, a web grant.
    const sso = await authorize(phone, otherWeb);
    expect(sso.tokens?.refresh_token).toBeTruthy();

    expect(await refreshes(web, laptopRefresh)).toBe(false);
    expect(isSignInPage(await authorize(laptop, web))).toBe(true); // the laptop must sign in again
    expect(await refreshes(otherWeb, sso.tokens!.refresh_token!)).toBe(true); // the session that got the grant stays
    expect(await refreshes(mobile, mobileTokens.refresh_token!)).toBe(true); // not a web client

    expect(logoutTokens.length).toBe(before + 1);
    const { payload } = await jwtVerify(logoutTokens[before]!, createRemoteJWKSet(new URL(`${h.running.issuer}/jwks`)), {
      issuer: h.running.issuer,
      audience: web.clientId,
    });
    expect(payload).toMatchObject({ sub, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
  });

  it('prompt=none SSO to a web client counts as well', async () => {
    const u = await user();
    // Two browsers with web sessions side by side, set up while the setting is off; prompt=none needs a grant to exist.
    await concurrent(false);
    const phone = new Browser();
    await signIn(phone, otherWeb, u.email, PASSWORD);
    const laptop = new Browser();
    const { tokens } = await signIn(laptop, web, u.email, PASSWORD);
    await concurrent(true);
    expect((await authorize(phone, otherWeb, { prompt: 'none' })).tokens).toBeTruthy();
    expect(await refreshes(web, tokens.refresh_token!)).toBe(false);
    expect(isSignInPage(await authorize(laptop, web))).toBe(true);
  });

  it('an SSO that gives no grant (an error at the callback) ends nothing', async () => {
    const u = await user();
    const laptop = new Browser();
    const { tokens } = await signIn(laptop, web, u.email, PASSWORD);
    const phone = new Browser();
    await signIn(phone, mobile, u.email, PASSWORD, { redirect_uri: MOBILE_CALLBACK });
    // A request the provider refuses after the session is found: an unknown resource.
    expect((await authorize(phone, otherWeb, { prompt: 'none', resource: 'https://unknown.example/' })).error).toBe('invalid_target');
    expect(await refreshes(web, tokens.refresh_token!)).toBe(true);
  });

  it('with the setting off, SSO ends nothing', async () => {
    await concurrent(false);
    try {
      const u = await user();
      const { tokens } = await signIn(new Browser(), web, u.email, PASSWORD);
      const phone = new Browser();
      await signIn(phone, mobile, u.email, PASSWORD, { redirect_uri: MOBILE_CALLBACK });
      expect((await authorize(phone, otherWeb)).tokens).toBeTruthy();
      expect(await refreshes(web, tokens.refresh_token!)).toBe(true);
    } finally {
      await concurrent(true);
    }
  });
});

describe('a session whose account was disabled', () => {
  const sessionsOf = (id: string) => h.app.services.oidcStore.listByAccount(id, 'Session');

  it('prompt=none gets login_required, the session ends, and the next request shows the sign-in page', async () => {
    const u = await user();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, u.email, PASSWORD);
    expect(await sessionsOf(u.id)).toHaveLength(1);
    expect((await h.api('POST', `/users/${u.id}/disable`)).status).toBe(200);

    expect(await authorize(browser, otherWeb, { prompt: 'none' })).toEqual({ error: 'login_required' });
    expect(await sessionsOf(u.id)).toHaveLength(0);
    expect(isSignInPage(await authorize(browser, otherWeb))).toBe(true);

    // Enabled again, the ended session and its grant stay ended: nothing comes back without a sign-in.
    expect((await h.api('POST', `/users/${u.id}/enable`)).status).toBe(200);
    expect(await refreshes(web, tokens.refresh_token!)).toBe(false);
    expect(isSignInPage(await authorize(browser, web, { prompt: 'consent' }))).toBe(true);
  });

  it('without prompt=none, the sign-in page at once; signing in there (once enabled) works in the same browser', async () => {
    const u = await user();
    const browser = new Browser();
    await signIn(browser, web, u.email, PASSWORD);
    expect((await h.api('POST', `/users/${u.id}/disable`)).status).toBe(200);

    const shown = await authorize(browser, web);
    expect(isSignInPage(shown)).toBe(true);
    expect(await sessionsOf(u.id)).toHaveLength(0);

    expect((await h.api('POST', `/users/${u.id}/enable`)).status).toBe(200);
    const again = await signIn(browser, web, u.email, PASSWORD);
    expect(again.tokens.access_token).toBeTruthy();
    expect(await sessionsOf(u.id)).toHaveLength(1);
  });

  it('another user signs in on that browser without a logout detour', async () => {
    const gone = await user();
    const next = await user();
    const browser = new Browser();
    await signIn(browser, web, gone.email, PASSWORD);
    expect((await h.api('POST', `/users/${gone.id}/disable`)).status).toBe(200);
    const { tokens } = await signIn(browser, web, next.email, PASSWORD);
    expect((await client.tokenIntrospection(web.config, tokens.access_token)).sub).toBe(next.id);
  });
});
