/**
 * Session rules whose breakage left the suite green: a web session's lifetime is counted from the
 * sign-in (not from the last refresh), and a password change ends the user's other sessions even when
 * "prevent concurrent web sessions" is off (so that setting cannot mask a missing call).
 *
 * Time: only `Date` is faked (timers, I/O and argon2 run for real). The application runs in this
 * process and reads the clock through Date.now(), so moving the fake clock moves Gatehouse's "now":
 * the stored sign-in time stays what it was, which is exactly what the lifetime rule is about.
 */
import { jest } from '@jest/globals';
import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { authorizationUrl, registerClient, RP, signIn, type TestClient } from '../helpers/oidc.js';
import { submitNewPassword } from '../helpers/password-flows.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { clock } from '../helpers/clock.js';

const PASSWORD = 'Bite-Session-1';
const H = 3600;
let h: AdminHarness;
let web: TestClient;
let mobile: TestClient;
let orgId: string;
let n = 0;

jest.setTimeout(120_000);

beforeAll(async () => {
  h = await startAdminHarness();
  web = await registerClient(h.app, h.running.issuer);
  mobile = await registerClient(h.app, h.running.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  orgId = await organizationWithDomain(h, 'Bite Sessions', 'bite-sessions.example');
});
afterAll(async () => {
  jest.useRealTimers();
  await h.stop();
});
afterEach(() => jest.useRealTimers());

async function user() {
  const email = `s${++n}@bite-sessions.example`;
  await createUser(h, email, PASSWORD);
  return email;
}

/** Seconds from now until the refresh token expires, as introspection reports it. */
async function refreshTokenLife(c: TestClient, refreshToken: string) {
  const info = await client.tokenIntrospection(c.config, refreshToken);
  expect(info.active).toBe(true);
  return (info.exp as number) - Math.floor(Date.now() / 1000);
}

const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(60);

describe('web session lifetime', () => {
  it('counts from the sign-in: a refresh an hour later gets a token with one hour left, and none after two', async () => {
    await putPolicy(h, orgId, { session: { webTimeoutHours: 2 } });
    const email = await user();
    clock.install();
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, email, PASSWORD);
    near(await refreshTokenLife(web, tokens.refresh_token!), 2 * H);

    clock.advance(H);
    const rotated = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    near(await refreshTokenLife(web, rotated.refresh_token!), H); // not 2 h from the refresh

    // The browser session, saved again by this SSO visit, keeps its end too.
    const sso = await browser.follow(await authorizationUrl(web), (u) => u.startsWith(RP));
    expect('redirectedTo' in sso).toBe(true);
    const cookie = (await browser.jar.getCookies(h.running.issuer)).find((c) => c.key === '_session');
    near((cookie!.expires as Date).getTime() / 1000 - Date.now() / 1000, H);

    clock.advance(H + 60);
    await expect(client.refreshTokenGrant(web.config, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const after = await browser.follow(await authorizationUrl(web), (u) => u.startsWith(RP));
    expect('html' in after && after.html).toContain('autocomplete="current-password"'); // asked to sign in again
  });

  it('mobile: mobileExpiryHours from the sign-in, however often it refreshes', async () => {
    await putPolicy(h, orgId, { session: { mobileExpiryHours: 3 } });
    const email = await user();
    clock.install();
    const { tokens } = await signIn(new Browser(), mobile, email, PASSWORD, { redirect_uri: 'http://127.0.0.1:8999/callback' });
    let refreshToken = tokens.refresh_token!;
    for (let hour = 1; hour <= 2; hour++) {
      clock.advance(H);
      refreshToken = (await client.refreshTokenGrant(mobile.config, refreshToken)).refresh_token!;
      near(await refreshTokenLife(mobile, refreshToken), (3 - hour) * H);
    }
    clock.advance(H + 60);
    await expect(client.refreshTokenGrant(mobile.config, refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('a password change', () => {
  it('ends the other browsers\' sessions and refresh tokens even with preventConcurrentWebSessions off', async () => {
    await putPolicy(h, orgId, { session: { preventConcurrentWebSessions: false }, password: { minAgeHours: 0 } });
    const email = await user();
    const laptop = new Browser();
    await signIn(laptop, web, email, PASSWORD);
    const other = new Browser();
    const { tokens } = await signIn(other, web, email, PASSWORD);
    const phone = await signIn(new Browser(), mobile, email, PASSWORD, { redirect_uri: 'http://127.0.0.1:8999/callback' });

    // With the setting off, both web sessions live side by side until the change.
    const stillAlive = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    expect((await other.request(`${h.running.issuer}/account`)).status).toBe(200);

    const page = await laptop.page(`${h.running.issuer}/account/security`);
    expect(await submitNewPassword(laptop, page, 'form[action="/account/password"]', 'Bite-Changed-9', { currentPassword: PASSWORD })).toEqual({
      accepted: true,
      errors: [],
    });

    await expect(client.refreshTokenGrant(web.config, stillAlive.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(mobile.config, phone.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await other.request(`${h.running.issuer}/account`)).status).toBe(401);
    const again = await other.follow(await authorizationUrl(web), (u) => u.startsWith(RP));
    expect('html' in again && again.html).toContain('autocomplete="current-password"');
    expect((await laptop.request(`${h.running.issuer}/account`)).status).toBe(200); // the browser that changed it stays
  });
});
