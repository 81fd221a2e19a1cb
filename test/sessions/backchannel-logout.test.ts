import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { Browser } from '../helpers/browser.js';
import { RP_CALLBACK, RP_LOGGED_OUT, signIn, type TestClient } from '../helpers/oidc.js';
import { LogoutListener } from '../helpers/logout-listener.js';
import { startGatehouseProcess, type GatehouseProcess } from '../helpers/process.js';

/**
 * Back-channel logout against Gatehouse running as `npm start` runs it, in its own process, where
 * oidc-provider's guard against requests into special-use networks is active (under jest's module
 * sandbox it cannot install, which once let a test pass while production never delivered anything).
 * The relying parties listen on loopback, like an in-house app next to Gatehouse.
 */
const PASSWORD = 'Horse-Staple-Battery-42';
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

let n = 0;
let v4: LogoutListener;
let v6: LogoutListener;
beforeAll(async () => {
  v4 = await new LogoutListener().start('127.0.0.1');
  v6 = await new LogoutListener().start('::1');
});
afterAll(async () => {
  await v4.stop();
  await v6.stop();
});

/** A user and a web client with a back-channel logout URI, both created through the platform's admin API. */
async function setUp(gh: GatehouseProcess, backchannelLogoutUri: string) {
  const email = `rp.user${++n}@example.com`;
  expect((await gh.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
  const res = await gh.api('POST', '/clients', {
    client_name: `In-house app ${n}`,
    session_type: 'web',
    redirect_uris: [RP_CALLBACK],
    post_logout_redirect_uris: [RP_LOGGED_OUT],
    backchannel_logout_uri: backchannelLogoutUri,
  });
  expect(res.status).toBe(201);
  const created = res.body as Record<string, unknown>;
  const clientId = created.client_id as string;
  const secret = created.client_secret as string;
  const config = await client.discovery(new URL(gh.issuer), clientId, secret, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
  const app: TestClient = { clientId, clientSecret: secret, config };
  return { email, app };
}

/** Signs the user in from two browsers: under the default policy the second ends the first session. */
async function signInTwice(app: TestClient, email: string) {
  const first = await signIn(new Browser(), app, email, PASSWORD);
  const second = await signIn(new Browser(), app, email, PASSWORD);
  return { first: decodeJwt(first.tokens.id_token!), second };
}

async function verifiedLogoutToken(gh: GatehouseProcess, token: string, clientId: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${gh.issuer}/jwks`)), { issuer: gh.issuer, audience: clientId });
  return payload;
}

/** Waits (bounded) for an audit event of `type` about `clientId`, read through the platform's admin API. */
async function auditedFailure(gh: GatehouseProcess, clientId: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await gh.api('GET', '/events?type=backchannel_logout.failed');
    expect(res.status).toBe(200);
    const found = (res.body.items as Array<{ data: { clientId: string } }>).find((e) => e.data.clientId === clientId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no backchannel_logout.failed event for ${clientId}: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('with BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS naming the app\'s network', () => {
  let gh: GatehouseProcess;
  beforeAll(async () => {
    gh = await startGatehouseProcess({ BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '127.0.0.1/32' });
  });
  afterAll(() => gh?.stop());

  it('a second web sign-in ends the first session, and its app receives a logout token that verifies against the JWKS', async () => {
    const { email, app } = await setUp(gh, v4.uri);
    const before = v4.tokens.length;
    const { first } = await signInTwice(app, email);
    // The logout token is sent before the second sign-in is answered.
    expect(v4.tokens.length).toBe(before + 1);
    const payload = await verifiedLogoutToken(gh, v4.tokens[before]!, app.clientId);
    expect(payload).toMatchObject({ sub: first.sub, sid: first.sid, events: { [LOGOUT_EVENT]: {} } });
    expect(payload.nonce).toBeUndefined();
    expect(gh.logs.some((l) => l.event === 'backchannel_logout.sent' && l.clientId === app.clientId)).toBe(true);
  });

  it('RP-initiated logout reaches the app as well', async () => {
    const { email, app } = await setUp(gh, v4.uri);
    const browser = new Browser();
    const { tokens } = await signIn(browser, app, email, PASSWORD);
    const idToken = decodeJwt(tokens.id_token!);
    const before = v4.tokens.length;
    const confirm = await browser.page(client.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT }).href);
    expect((await browser.submit(confirm, 'form#op\\.logoutForm', { logout: 'yes' })).status).toBe(303);
    expect(v4.tokens.length).toBe(before + 1);
    expect(await verifiedLogoutToken(gh, v4.tokens[before]!, app.clientId)).toMatchObject({ sub: idToken.sub, sid: idToken.sid });
  });

  it('every other special-use destination stays refused: the failure is logged and audited', async () => {
    const { email, app } = await setUp(gh, v6.uri); // [::1] is loopback too, but not in the allowed networks
    const before = v6.tokens.length;
    await signInTwice(app, email);
    const event = await auditedFailure(gh, app.clientId);
    expect(JSON.stringify(event)).toContain('::1');
    expect(v6.tokens.length).toBe(before);
  });
});

describe('without BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', () => {
  let gh: GatehouseProcess;
  beforeAll(async () => {
    gh = await startGatehouseProcess();
  });
  afterAll(() => gh?.stop());

  it('nothing reaches an app on loopback, and the failure is in the log and the audit trail', async () => {
    const { email, app } = await setUp(gh, v4.uri);
    const before = v4.tokens.length;
    const { first } = await signInTwice(app, email);
    const event = await auditedFailure(gh, app.clientId);
    expect(event).toMatchObject({
      type: 'backchannel_logout.failed',
      targetType: 'user',
      targetId: first.sub,
      data: { clientId: app.clientId, uri: v4.uri, reason: expect.stringContaining('special-use address') },
    });
    expect(gh.logs).toContainEqual(expect.objectContaining({ level: 40, event: 'backchannel_logout.failed', clientId: app.clientId, reason: expect.stringContaining('127.0.0.1') }));
    expect(v4.tokens.length).toBe(before);
  });

  it('RP-initiated logout fails the same way, visibly', async () => {
    const { email, app } = await setUp(gh, v4.uri);
    const browser = new Browser();
    const { tokens } = await signIn(browser, app, email, PASSWORD);
    const before = v4.tokens.length;
    const confirm = await browser.page(client.buildEndSessionUrl(app.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT }).href);
    expect((await browser.submit(confirm, 'form#op\\.logoutForm', { logout: 'yes' })).status).toBe(303);
    await auditedFailure(gh, app.clientId);
    expect(v4.tokens.length).toBe(before);
  });
});
