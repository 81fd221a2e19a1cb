import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { clock } from '../helpers/clock.js';
import { authorizationUrl, registerClient, RP, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';

/**
 * The account center's "Sessions and devices" and "Recent activity" through real HTTP and the real
 * forms: devices signed in side by side (preventConcurrentWebSessions off), each a browser with its own
 * user agent and address (through the trusted proxy on loopback).
 */
const PASSWORD = 'Devices-Pass-1';
const MOBILE_CALLBACK = 'http://127.0.0.1:8999/callback';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** A browser on a network, with its own user agent. */
class Device extends Browser {
  constructor(public address: string, readonly userAgent: string) {
    super();
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.address);
    headers.set('user-agent', this.userAgent);
    return super.request(url, { ...init, headers });
  }
}

let h: AdminHarness;
let web: TestClient;
let mobile: TestClient;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness({ TRUSTED_PROXIES: '127.0.0.1' });
  web = await registerClient(h.app, h.running.issuer);
  mobile = await registerClient(h.app, h.running.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  const orgId = await organizationWithDomain(h, 'Devices', 'devices.example');
  await putPolicy(h, orgId, { session: { preventConcurrentWebSessions: false } });
});
afterAll(() => h.stop());
afterEach(() => clock.uninstall());

const url = (path: string) => `${h.running.issuer}${path}`;

async function user() {
  const email = `d${++n}@devices.example`;
  const id = await createUser(h, email, PASSWORD);
  return { email, id };
}

/** Signs in on a new device; returns the device and its tokens. */
async function signedIn(email: string, address: string, userAgent = CHROME_WINDOWS, app = web) {
  const device = new Device(address, userAgent);
  const { tokens } = await signIn(device, app, email, PASSWORD, app === mobile ? { redirect_uri: MOBILE_CALLBACK } : {});
  return { device, tokens };
}

const sessionsOf = (page: Page) =>
  page.doc.querySelectorAll('li[data-session]').map((li) => ({
    handle: li.getAttribute('data-session')!,
    current: li.getAttribute('aria-current') === 'true',
    text: li.text.replace(/\s+/g, ' ').trim(),
  }));

const endForm = (handle: string) => `li[data-session="${handle}"] form`;
const refreshFails = (app: TestClient, token: string) => expect(client.refreshTokenGrant(app.config, token)).rejects.toMatchObject({ error: 'invalid_grant' });

async function events(type: string, userId: string) {
  const all = await h.app.services.audit.listAboutUser(userId, 100);
  return all.filter((e) => e.type === type);
}

describe('/account/sessions', () => {
  it('lists every browser signed in, this one marked, with when, where, which browser and which apps', async () => {
    const { email } = await user();
    const laptop = await signedIn(email, '203.0.113.10', CHROME_WINDOWS);
    await signedIn(email, '203.0.113.20', SAFARI_IPHONE);
    const page = await laptop.device.page(url('/account/sessions'));
    expect(page.status).toBe(200);
    const listed = sessionsOf(page);
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatchObject({ current: true });
    expect(listed[0]!.text).toContain('Chrome 131 on Windows 10');
    expect(listed[0]!.text).toContain('This device');
    expect(listed[0]!.text).toContain('from 203.0.113.10');
    expect(listed[0]!.text).toContain('Test web app (Web app)');
    expect(listed[1]!.text).toMatch(/Safari 17 on iOS 17/);
    expect(listed[1]!.text).toContain('from 203.0.113.20');
    expect(listed[1]!.text).not.toContain('This device');
    expect(page.doc.querySelectorAll(`li[data-session] time`).length).toBeGreaterThanOrEqual(4); // signed in, last used
    // Only the other session has a sign-out form; this one has none.
    expect(page.doc.querySelector(endForm(listed[0]!.handle))).toBeNull();
    expect(page.doc.querySelector(endForm(listed[1]!.handle))).not.toBeNull();
    // In Vietnamese too.
    const vi = await laptop.device.page(url('/account/sessions?lang=vi'));
    expect(vi.html).toContain('Thiết bị này');
    expect(vi.html).toContain('Chrome 131 trên Windows 10');
  });

  it('ends the other browser\'s session: its app loses its refresh token, this one keeps its own, and it is audited', async () => {
    const { email, id } = await user();
    const laptop = await signedIn(email, '203.0.113.10');
    const phone = await signedIn(email, '203.0.113.20', SAFARI_IPHONE);
    const page = await laptop.device.page(url('/account/sessions'));
    const other = sessionsOf(page).find((s) => !s.current)!;
    const res = await laptop.device.submit(page, endForm(other.handle), {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/sessions?done=ended');

    await refreshFails(web, phone.tokens.refresh_token!);
    expect((await phone.device.request(url('/account/sessions'))).status).toBe(401);
    await client.refreshTokenGrant(web.config, laptop.tokens.refresh_token!);
    const after = await laptop.device.page(url('/account/sessions?done=ended'));
    expect(sessionsOf(after)).toHaveLength(1);
    expect(after.doc.querySelector('.notice')!.text).toContain('That session was signed out.');
    const [ended] = await events('session.ended', id);
    expect(ended).toMatchObject({ actorId: id, targetId: id, ip: '203.0.113.10', data: { by: 'user', session: other.handle, current: false, endedSessions: 1, revokedGrants: 1, clientIds: [web.clientId] } });
  });

  it('a later use of a session (a sign-in to an app through it) updates its "last used" and address, at most once a minute', async () => {
    const { email } = await user();
    clock.install();
    const laptop = await signedIn(email, '203.0.113.10');
    const phone = await signedIn(email, '203.0.113.20', SAFARI_IPHONE);
    const phoneItem = async () => sessionsOf(await laptop.device.page(url('/account/sessions'))).find((s) => !s.current)!.text;
    const phoneTimes = async () =>
      (await laptop.device.page(url('/account/sessions'))).doc.querySelectorAll('li[data-session]:not([aria-current]) time').map((t) => Date.parse(t.getAttribute('datetime')!) / 1000);
    const sso = async () => expect('redirectedTo' in (await phone.device.follow(await authorizationUrl(web), (u) => u.startsWith(RP)))).toBe(true);

    phone.device.address = '203.0.113.21';
    await sso(); // within the minute of the sign-in: not written
    expect(await phoneItem()).toContain('from 203.0.113.20');
    clock.advance(120);
    await sso();
    const text = await phoneItem();
    expect(text).toContain('from 203.0.113.21');
    expect(text).toMatch(/Signed in .* · Last used .* · from/);
    const [signedInAt, lastUsedAt] = await phoneTimes();
    expect(lastUsedAt! - signedInAt!).toBeGreaterThanOrEqual(120);
  });

  it('refuses another user\'s session, an unknown one, and a form without its CSRF token', async () => {
    const alice = await user();
    const bob = await user();
    const laptop = await signedIn(alice.email, '203.0.113.10');
    const second = await signedIn(alice.email, '203.0.113.11');
    const bobs = await signedIn(bob.email, '203.0.113.30');
    const bobsHandle = sessionsOf(await bobs.device.page(url('/account/sessions')))[0]!.handle;

    const page = await laptop.device.page(url('/account/sessions'));
    const own = sessionsOf(page).find((s) => !s.current)!;
    for (const handle of [bobsHandle, 'not-a-session', '']) {
      const refused = await laptop.device.submit(page, endForm(own.handle), { session: handle });
      expect([handle, refused.status]).toEqual([handle, 404]);
    }
    const noCsrf = await laptop.device.submit(page, endForm(own.handle), { csrf: 'forged' });
    expect(noCsrf.status).toBe(403);
    // Nothing ended: Bob's app and Alice's other browser still refresh.
    await client.refreshTokenGrant(web.config, bobs.tokens.refresh_token!);
    await client.refreshTokenGrant(web.config, second.tokens.refresh_token!);
    expect(await events('session.ended', alice.id)).toEqual([]);
    expect(await events('session.ended', bob.id)).toEqual([]);
    // Not signed in: no page, no action.
    const stranger = new Device('203.0.113.99', CHROME_WINDOWS);
    expect((await stranger.request(url('/account/sessions'))).status).toBe(401);
  });

  it('"sign out everywhere else" right after signing in ends every other browser and the apps without one', async () => {
    const { email, id } = await user();
    const laptop = await signedIn(email, '203.0.113.10');
    const other = await signedIn(email, '203.0.113.20', SAFARI_IPHONE);
    // A phone app whose sign-in browser session has since lapsed: only its grant and refresh token remain.
    const phone = await signedIn(email, '203.0.113.40', SAFARI_IPHONE, mobile);
    const phoneSession = (await h.app.services.oidcStore.listByAccount(id, 'Session')).find((s) => mobile.clientId in ((s.payload.authorizations ?? {}) as object))!;
    await h.app.services.oidcStore.destroy('Session', phoneSession.id);

    const page = await laptop.device.page(url('/account/sessions'));
    expect(sessionsOf(page)).toHaveLength(2);
    const apps = page.doc.querySelectorAll('li[data-app]').map((li) => li.text.replace(/\s+/g, ' '));
    expect(apps).toHaveLength(1);
    expect(apps[0]).toContain('Test mobile app · Mobile app');
    const res = await laptop.device.submit(page, 'form[action="/account/sessions/others"]', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/sessions?done=others');

    await refreshFails(web, other.tokens.refresh_token!);
    await refreshFails(mobile, phone.tokens.refresh_token!);
    await client.refreshTokenGrant(web.config, laptop.tokens.refresh_token!);
    const after = await laptop.device.page(url('/account/sessions'));
    expect(sessionsOf(after)).toEqual([expect.objectContaining({ current: true })]);
    expect(after.doc.querySelectorAll('li[data-app]')).toHaveLength(0);
    expect((await events('session.others_ended', id))[0]).toMatchObject({ data: { by: 'user', endedSessions: 1, revokedGrants: 2 } });
  });

  it('signs one app without a browser out', async () => {
    const { email, id } = await user();
    const laptop = await signedIn(email, '203.0.113.10');
    const phone = await signedIn(email, '203.0.113.40', SAFARI_IPHONE, mobile);
    const phoneSession = (await h.app.services.oidcStore.listByAccount(id, 'Session')).find((s) => mobile.clientId in ((s.payload.authorizations ?? {}) as object))!;
    await h.app.services.oidcStore.destroy('Session', phoneSession.id);
    const page = await laptop.device.page(url('/account/sessions'));
    const res = await laptop.device.submit(page, 'li[data-app] form', {});
    expect(res.status).toBe(303);
    await refreshFails(mobile, phone.tokens.refresh_token!);
    await client.refreshTokenGrant(web.config, laptop.tokens.refresh_token!);
    expect((await events('session.app_ended', id))[0]).toMatchObject({ data: { by: 'user', clientIds: [mobile.clientId] } });
  });

  it('"sign out everywhere else" more than 5 minutes after signing in asks to confirm first, and ends nothing', async () => {
    const { email } = await user();
    clock.install();
    const laptop = await signedIn(email, '203.0.113.10');
    const other = await signedIn(email, '203.0.113.20');
    clock.advance(6 * 60);
    const page = await laptop.device.page(url('/account/sessions'));
    expect(page.html).toContain('you will be asked to confirm it is you first');
    const res = await laptop.device.submit(page, 'form[action="/account/sessions/others"]', {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/account/confirm?next=/account/sessions');
    await client.refreshTokenGrant(web.config, other.tokens.refresh_token!);
  });
});

describe('/account/activity', () => {
  it('shows the user\'s own sign-ins and security events in plain words, with address and browser, and nobody else\'s', async () => {
    const alice = await user();
    const bob = await user();
    // A wrong password for Alice from a phone, then her sign-ins.
    const wrong = new Device('198.51.100.7', SAFARI_IPHONE);
    const started = await startSignIn(wrong, web);
    expect((await wrong.submit(started.loginPage, 'form[action$="/password"]', { email: alice.email, password: 'Not-Her-Password-1' })).status).toBe(401);
    const laptop = await signedIn(alice.email, '203.0.113.10');
    await signedIn(alice.email, '203.0.113.20');
    // Bob's failures must not appear on Alice's page.
    const bobs = new Device('192.0.2.77', CHROME_WINDOWS);
    const bobStart = await startSignIn(bobs, web);
    expect((await bobs.submit(bobStart.loginPage, 'form[action$="/password"]', { email: bob.email, password: 'Wrong-Bob-Pass-1' })).status).toBe(401);

    // Alice ends her other browser.
    const sessions = await laptop.device.page(url('/account/sessions'));
    const other = sessionsOf(sessions).find((s) => !s.current)!;
    expect((await laptop.device.submit(sessions, endForm(other.handle), {})).status).toBe(303);

    const page = await laptop.device.page(url('/account/activity'));
    expect(page.status).toBe(200);
    const items = page.doc.querySelectorAll('ul.activity li').map((li) => ({
      what: li.querySelector('p')!.text.trim(),
      text: li.text.replace(/\s+/g, ' ').trim(),
      failure: li.hasAttribute('data-failure'),
    }));
    expect(items.map((i) => i.what)).toEqual([
      'A session was signed out',
      'Signed in to Test web app',
      'Signed in to Test web app',
      'Sign-in failed: wrong email or password',
      'Account created',
    ]);
    expect(items[3]).toMatchObject({ failure: true });
    expect(items[3]!.text).toContain('from 198.51.100.7');
    expect(items[3]!.text).toContain('Safari 17 on iOS 17');
    expect(items[1]!.text).toContain('from 203.0.113.20');
    expect(page.html).not.toContain('192.0.2.77');
    // The account was created by an administrator: their address and browser are not shown as the user's.
    expect(items[4]!.text).not.toContain('from ');
    expect(page.doc.querySelectorAll('ul.activity time')).toHaveLength(5);
    expect(items[0]).toMatchObject({ failure: false });
    expect(page.doc.querySelector('nav.account-nav a[aria-current="page"]')!.getAttribute('href')).toBe('/account/activity');

    const vi = await laptop.device.page(url('/account/activity?lang=vi'));
    expect(vi.html).toContain('Đăng nhập không thành công: sai email hoặc mật khẩu');
    expect(vi.html).toContain('Đã đăng nhập vào Test web app');
  });

  it('shows at most the last 30 events', async () => {
    const { email, id } = await user();
    for (let i = 0; i < 35; i++) await h.app.services.audit.record('password.changed', { actor: { type: 'user', id }, target: { type: 'user', id } });
    const laptop = await signedIn(email, '203.0.113.10');
    const page = await laptop.device.page(url('/account/activity'));
    const items = page.doc.querySelectorAll('ul.activity li');
    expect(items).toHaveLength(30);
    expect(items[0]!.text).toContain('Signed in to Test web app');
    expect(items[29]!.text).toContain('Your password was changed');
  });
});
