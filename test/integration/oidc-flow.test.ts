import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { Browser } from '../helpers/browser.js';
import { API, authorizationUrl, RP_LOGGED_OUT, registerClient, signIn, type TestClient } from '../helpers/oidc.js';
import { startApp, type RunningApp } from '../helpers/server.js';

const EMAIL = 'alice@example.com';
const PASSWORD = 'Correct-Horse-9';

let running: RunningApp;
let web: TestClient;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  running = await startApp({ RESOURCE_SERVERS: JSON.stringify({ [API]: { scopes: ['read', 'write'] } }) });
  await running.app.services.accounts.create({ email: 'Alice@Example.com', password: PASSWORD, name: 'Alice' });
  web = await registerClient(running.app, running.issuer);
  jwks = createRemoteJWKSet(new URL(`${running.issuer}/jwks`));
});
afterAll(() => running.stop());

describe('a web app signs a user in through the real pages', () => {
  it('issues an ID token and userinfo that relying parties verify with the JWKS', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, EMAIL, PASSWORD);
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: running.issuer, audience: web.clientId });
    expect(protectedHeader.alg).toBe('RS256');
    // The claims of the granted scopes are in the ID token too (many relying parties read only it).
    expect(payload).toMatchObject({ email: EMAIL, email_verified: false, name: 'Alice' });
    expect(payload.amr).toEqual(['pwd']);
    const sub = payload.sub!;
    const info = await client.fetchUserInfo(web.config, tokens.access_token, sub);
    expect(info).toMatchObject({ sub, email: EMAIL, name: 'Alice' });
  });

  it('issues RFC 9068 JWT access tokens for a registered resource server', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, EMAIL, PASSWORD, {
      resource: API,
      scope: 'openid email offline_access read',
    });
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: running.issuer,
      audience: API,
      typ: 'at+jwt',
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ client_id: web.clientId, scope: 'read' });
    expect(typeof payload.sub).toBe('string');
  });

  it('rotates refresh tokens and revokes the grant when a rotated token is replayed', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, EMAIL, PASSWORD);
    const first = tokens.refresh_token!;
    expect(first).toBeTruthy();

    const refreshed = await client.refreshTokenGrant(web.config, first);
    const second = refreshed.refresh_token!;
    expect(second).not.toBe(first);
    await jwtVerify(refreshed.id_token!, jwks, { issuer: running.issuer, audience: web.clientId });

    await expect(client.refreshTokenGrant(web.config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Reuse of a rotated token means it leaked: the whole grant is gone, the current token too.
    await expect(client.refreshTokenGrant(web.config, second)).rejects.toMatchObject({ error: 'invalid_grant' });
    const introspected = await client.tokenIntrospection(web.config, refreshed.access_token);
    expect(introspected.active).toBe(false);
  });

  it('introspects and revokes tokens', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, EMAIL, PASSWORD);
    const active = await client.tokenIntrospection(web.config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: web.clientId });

    await client.tokenRevocation(web.config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(web.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await client.tokenRevocation(web.config, tokens.access_token);
    expect((await client.tokenIntrospection(web.config, tokens.access_token)).active).toBe(false);
  });

  it('keeps the browser session: a second authorization needs no password, until the user logs out', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, EMAIL, PASSWORD);

    // Same browser, no prompt: straight back to the client with a code.
    const again = await authorizationUrl(web);
    const silent = await browser.follow(again, (u) => u.startsWith('http://127.0.0.1:8999'));
    expect('redirectedTo' in silent && new URL(silent.redirectedTo).searchParams.has('code')).toBe(true);

    // RP-initiated logout: a confirmation page, then back to the registered post-logout URI.
    const logoutUrl = client.buildEndSessionUrl(web.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: RP_LOGGED_OUT,
      state: 'bye',
    });
    const confirm = await browser.page(logoutUrl.href);
    expect(confirm.status).toBe(200);
    expect(confirm.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const res = await browser.submit(confirm, 'form#op\\.logoutForm', { logout: 'yes' });
    expect(res.status).toBe(303);
    const done = await browser.follow(new URL(res.headers.get('location')!, confirm.url).href, (u) => u.startsWith(RP_LOGGED_OUT));
    expect('redirectedTo' in done && new URL(done.redirectedTo).searchParams.get('state')).toBe('bye');

    // The session is gone: the same request now shows the sign-in page.
    const afterLogout = await browser.follow(again, (u) => u.startsWith('http://127.0.0.1:8999'));
    expect('html' in afterLogout && afterLogout.doc.querySelector('input[autocomplete="current-password"]')).toBeTruthy();
  });
});

describe('machine clients', () => {
  it('get JWT access tokens by client credentials', async () => {
    const tokens = await client.clientCredentialsGrant(web.config, { resource: API, scope: 'write' });
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: running.issuer, audience: API, typ: 'at+jwt' });
    expect(payload).toMatchObject({ client_id: web.clientId, scope: 'write' });
    expect(payload.sub).toBe(web.clientId);
  });

  it('are refused with a wrong secret', async () => {
    const wrong = await client.discovery(new URL(running.issuer), web.clientId, 'not-the-secret', client.ClientSecretBasic('not-the-secret'), {
      execute: [client.allowInsecureRequests],
    });
    const err = await client.clientCredentialsGrant(wrong, { resource: API }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect((err as client.WWWAuthenticateChallengeError).cause[0]?.parameters.error).toBe('invalid_client');
  });
});

describe('native apps (RFC 8252)', () => {
  it('sign in as public clients with PKCE on a loopback redirect, any port', async () => {
    const mobile = await registerClient(running.app, running.issuer, {
      sessionType: 'mobile',
      redirectUri: 'http://127.0.0.1/callback',
    });
    const browser = new Browser();
    const { tokens } = await signIn(browser, mobile, EMAIL, PASSWORD, { redirect_uri: 'http://127.0.0.1:8999/callback' });
    expect(tokens.refresh_token).toBeTruthy();
    const { payload } = await jwtVerify(tokens.id_token!, jwks, { issuer: running.issuer, audience: mobile.clientId });
    expect(payload.sub).toBeTruthy();
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(mobile.config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
  });
});

describe('discovery', () => {
  it('advertises code flow with S256 PKCE only', async () => {
    const meta = (await (await fetch(`${running.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta).toHaveProperty('introspection_endpoint');
    expect(meta).toHaveProperty('revocation_endpoint');
    expect(meta).toHaveProperty('end_session_endpoint');
    expect(meta.backchannel_logout_supported).toBe(true);
  });
});
