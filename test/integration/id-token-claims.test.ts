/**
 * Item 17: the ID token carries the claims of the granted scopes, and email_verified says whether the
 * user proved control of the mailbox (here: by completing a forgot-password reset).
 */
import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn, type TestClient } from '../helpers/oidc.js';
import { forgotPasswordLink, resetThroughLink } from '../helpers/password-flows.js';

const PASSWORD = 'Claims-Pass-1';
let h: AdminHarness;
let web: TestClient;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
});
afterAll(() => h.stop());

async function user(name = 'Grace Hopper') {
  const email = `grace${++n}@claims.example`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD, name });
  expect(res.status).toBe(201);
  expect(res.body.emailVerified).toBe(false);
  return { email, id: res.body.id as string };
}

/** Signs in through the real pages and returns the validated ID token claims and the tokens. */
async function idTokenOf(email: string, password: string, scope: string) {
  const { tokens } = await signIn(new Browser(), web, email, password, { scope });
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  return { claims, tokens };
}

describe('ID token claims', () => {
  it('with scope "openid email profile" the ID token carries email, email_verified=false and name, as userinfo does', async () => {
    const u = await user();
    const { claims, tokens } = await idTokenOf(u.email, PASSWORD, 'openid email profile');
    expect(claims).toMatchObject({ sub: u.id, email: u.email, email_verified: false, name: 'Grace Hopper' });
    const info = await client.fetchUserInfo(web.config, tokens.access_token, u.id);
    expect(info).toMatchObject({ sub: u.id, email: u.email, email_verified: false, name: 'Grace Hopper' });
  });

  it('with scope "openid" only the ID token carries no email or name', async () => {
    const u = await user();
    const { claims } = await idTokenOf(u.email, PASSWORD, 'openid');
    expect(claims.sub).toBe(u.id);
    for (const claim of ['email', 'email_verified', 'name']) expect(claims).not.toHaveProperty(claim);
  });

  it('with scope "openid email" the ID token carries the email claims but no name', async () => {
    const u = await user();
    const { claims } = await idTokenOf(u.email, PASSWORD, 'openid email');
    expect(claims).toMatchObject({ email: u.email, email_verified: false });
    expect(claims).not.toHaveProperty('name');
  });

  it('an ID token issued on refresh carries the same claims', async () => {
    const u = await user();
    const { tokens } = await idTokenOf(u.email, PASSWORD, 'openid email profile offline_access');
    const refreshed = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: u.id, email: u.email, email_verified: false, name: 'Grace Hopper' });
  });
});

describe('email_verified', () => {
  it('becomes true once a forgot-password reset is completed through the mailed link (not when a password is refused there)', async () => {
    const u = await user();
    const link = await forgotPasswordLink(h, u.email);
    // A refused password proves nothing yet: the link is still unused.
    expect(await resetThroughLink(link, 'short')).toMatchObject({ accepted: false });
    expect((await idTokenOf(u.email, PASSWORD, 'openid email')).claims.email_verified).toBe(false);

    expect(await resetThroughLink(link, 'Claims-Reset-2')).toEqual({ accepted: true, errors: [] });
    const { claims, tokens } = await idTokenOf(u.email, 'Claims-Reset-2', 'openid email profile');
    expect(claims).toMatchObject({ sub: u.id, email: u.email, email_verified: true, name: 'Grace Hopper' });
    expect(await client.fetchUserInfo(web.config, tokens.access_token, u.id)).toMatchObject({ email_verified: true });
    expect((await h.api('GET', `/users/${u.id}`)).body.emailVerified).toBe(true);
    const events = await h.app.services.db('audit_events').where({ type: 'user.email_verified', target_id: u.id });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor_type: 'user', actor_id: u.id });
    expect(JSON.parse(events[0].data)).toEqual({ via: 'reset' });
  });

  it('stays false for an account nobody proved, and a second reset keeps the first proof', async () => {
    const u = await user();
    const first = await forgotPasswordLink(h, u.email);
    expect(await resetThroughLink(first, 'Claims-Reset-3')).toEqual({ accepted: true, errors: [] });
    const verifiedAt = (await h.app.services.db('accounts').where({ id: u.id }).first()).email_verified_at;
    expect(verifiedAt).toEqual(expect.any(Number));
    const second = await forgotPasswordLink(h, u.email);
    expect(await resetThroughLink(second, 'Claims-Reset-4')).toEqual({ accepted: true, errors: [] });
    expect((await h.app.services.db('accounts').where({ id: u.id }).first()).email_verified_at).toBe(verifiedAt);
    const other = await user();
    expect((await idTokenOf(other.email, PASSWORD, 'openid email')).claims.email_verified).toBe(false);
  });
});
