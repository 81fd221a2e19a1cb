import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { authorizationUrl, registerClient, RP, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';

/**
 * The IP whitelist at every checkpoint of the contract, not only the password form: sign-in through an
 * existing browser session (SSO, prompt=none), the second-factor and account pages, token requests of
 * mobile/desktop clients. Gatehouse runs behind a trusted proxy on loopback, so each "device" chooses
 * its address with X-Forwarded-For; without the header it is 127.0.0.1, outside the whitelist.
 */
const PASSWORD = 'Reach-Pass-1';
const INSIDE = '203.0.113.5';
const OUTSIDE = '198.51.100.7';
const BLOCKED = 'Your organization does not allow signing in from this network.';
const MOBILE_CALLBACK = 'http://127.0.0.1:8999/callback';

let h: AdminHarness;
let web: TestClient;
let otherWeb: TestClient;
let mobile: TestClient;
let orgId: string;
let n = 0;

/** A browser on a network: every request it sends carries that address through the trusted proxy. It can move. */
class Device extends Browser {
  constructor(public address?: string) {
    super();
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.address && !headers.has('x-forwarded-for')) headers.set('x-forwarded-for', this.address);
    return super.request(url, { ...init, headers });
  }
}

beforeAll(async () => {
  h = await startAdminHarness({ TRUSTED_PROXIES: '127.0.0.1' });
  web = await registerClient(h.app, h.running.issuer);
  otherWeb = await registerClient(h.app, h.running.issuer);
  mobile = await registerClient(h.app, h.running.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  orgId = (await h.api('POST', '/organizations', { name: 'Reach' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'reach.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.reach.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/reach.example/verify`)).body.status).toBe('verified');
});
afterAll(() => h.stop());
afterEach(async () => {
  expect((await setPolicy({ login: { ipWhitelist: { enabled: false, cidrs: [] } }, authentication: { enforce2fa: false } })).status).toBe(200);
});

const setPolicy = (policy: object) => h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy });
const whitelistOn = async () =>
  expect((await setPolicy({ login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24', '2001:db8::/32'] } } })).status).toBe(200);

async function user() {
  const email = `r${++n}@reach.example`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** Follows an authorization request in the browser until it reaches the app's callback; returns the callback's query. */
async function authorizeAt(browser: Browser, c: TestClient, params: Record<string, string> = {}) {
  const url = new URL(await authorizationUrl(c));
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const result = await browser.follow(url.href, (u) => u.startsWith(RP));
  if (!('redirectedTo' in result)) return { page: result as Page };
  return { query: new URL(result.redirectedTo).searchParams };
}

/** A token request as the device sends it, from `address` (through the trusted proxy) or from loopback. */
async function tokenRequest(c: TestClient, body: Record<string, string>, address?: string) {
  const res = await fetch(`${h.running.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(address ? { 'x-forwarded-for': address } : {}),
      ...(c.clientSecret ? { authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}` } : {}),
    },
    body: new URLSearchParams({ ...(c.clientSecret ? {} : { client_id: c.clientId }), ...body }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

const refresh = (c: TestClient, refreshToken: string, address?: string) =>
  tokenRequest(c, { grant_type: 'refresh_token', refresh_token: refreshToken }, address);

async function failures(email: string) {
  const events = (await h.api('GET', `/organizations/${orgId}/events?type=sign_in.failed&limit=200`)).body.items;
  return events.filter((e: { data: { email: string } }) => e.data.email === email).map((e: { data: { reason: string } }) => e.data.reason);
}

describe('sign-in through an existing browser session (SSO)', () => {
  it('from outside: access_denied, or login_required for prompt=none, nothing asked, and the session stays for an allowed network', async () => {
    const u = await user();
    const browser = new Device();
    await signIn(browser, web, u.email, PASSWORD); // the whitelist is off: loopback may sign in
    expect((await authorizeAt(browser, otherWeb)).query?.get('code')).toBeTruthy(); // SSO works

    await whitelistOn();
    const denied = await authorizeAt(browser, otherWeb, { state: 'st-1' });
    expect(denied.query?.get('error')).toBe('access_denied');
    expect(denied.query?.get('state')).toBe('st-1');
    expect(denied.query?.get('iss')).toBe(h.running.issuer);
    expect(denied.query?.get('code')).toBeNull();
    expect((await authorizeAt(browser, otherWeb, { prompt: 'none' })).query?.get('error')).toBe('login_required');
    expect((await authorizeAt(browser, web, { prompt: 'none' })).query?.get('error')).toBe('login_required'); // the app it signed in to as well
    expect(await failures(u.email)).toEqual(['ip-not-allowed', 'ip-not-allowed', 'ip-not-allowed']);

    // Same browser, same cookies, now on an allowed network: the session was not ended.
    browser.address = INSIDE;
    const ok = await authorizeAt(browser, otherWeb, { prompt: 'none' });
    expect(ok.query?.get('code')).toBeTruthy();
    // …and from outside again, still refused.
    browser.address = OUTSIDE;
    expect((await authorizeAt(browser, otherWeb)).query?.get('error')).toBe('access_denied');
  });

  it('a fresh sign-in from an allowed network goes through; prompt=login from outside shows the sign-in page, which refuses the password', async () => {
    const u = await user();
    await whitelistOn();
    const inside = new Device(INSIDE);
    await signIn(inside, web, u.email, PASSWORD);
    expect((await authorizeAt(inside, otherWeb)).query?.get('code')).toBeTruthy();

    inside.address = OUTSIDE;
    const { loginPage } = await startSignIn(inside, web, { prompt: 'login' });
    const res = await inside.submit(loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    expect(res.status).toBe(403);
  });
});

describe('token requests', () => {
  it('a mobile refresh from outside is invalid_grant and ends nothing: the same refresh token works from inside', async () => {
    const u = await user();
    const phone = new Device();
    const { tokens } = await signIn(phone, mobile, u.email, PASSWORD, { redirect_uri: MOBILE_CALLBACK });
    await whitelistOn();

    for (const address of [undefined, OUTSIDE, '::ffff:198.51.100.7']) {
      const refused = await refresh(mobile, tokens.refresh_token!, address);
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
    const inside = await refresh(mobile, tokens.refresh_token!, INSIDE);
    expect(inside.status).toBe(200);
    expect(inside.body.refresh_token).toBeTruthy();
    expect((await refresh(mobile, inside.body.refresh_token!, '2001:db8::9')).status).toBe(200);

    // userinfo with the phone's access token: the device again.
    const userinfo = (address?: string) =>
      fetch(`${h.running.issuer}/me`, { headers: { authorization: `Bearer ${inside.body.access_token}`, ...(address ? { 'x-forwarded-for': address } : {}) } });
    expect((await userinfo(OUTSIDE)).status).toBe(401);
    expect((await userinfo(INSIDE)).status).toBe(200);

    const refusedEvents = (await h.api('GET', `/organizations/${orgId}/events?type=token.refused&limit=50`)).body.items.filter(
      (e: { targetId: string }) => e.targetId === u.id,
    );
    expect(refusedEvents.length).toBe(4);
  });

  it('a desktop refresh is checked the same way', async () => {
    const desktop = await registerClient(h.app, h.running.issuer, { sessionType: 'desktop', redirectUri: 'http://127.0.0.1/callback' });
    const u = await user();
    const { tokens } = await signIn(new Device(), desktop, u.email, PASSWORD, { redirect_uri: MOBILE_CALLBACK });
    await whitelistOn();
    expect(await refresh(desktop, tokens.refresh_token!, OUTSIDE)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await refresh(desktop, tokens.refresh_token!, INSIDE)).status).toBe(200);
  });

  it('a web client\'s refresh is server to server and is not checked', async () => {
    const u = await user();
    const { tokens } = await signIn(new Device(), web, u.email, PASSWORD);
    await whitelistOn();
    expect((await refresh(web, tokens.refresh_token!)).status).toBe(200); // from the app server on loopback
  });
});

describe('second-factor and account pages', () => {
  it('the second-factor page is refused from outside, and works from inside', async () => {
    const u = await user();
    expect((await setPolicy({ authentication: { enforce2fa: true }, login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } })).status).toBe(200);
    const inside = new Device(INSIDE);
    const { loginPage } = await startSignIn(inside, web);
    const res = await inside.submit(loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    expect(res.status).toBe(303);
    const stepUrl = new URL(res.headers.get('location')!, loginPage.url).href;
    const choice = await inside.page(stepUrl);
    expect((await inside.submit(choice, 'form[action$="/enroll"]:not([data-passkey])', { choose: 'totp' })).status).toBe(303);
    const enroll = await inside.page(stepUrl);
    expect(enroll.html).toContain('autocomplete="one-time-code"');

    inside.address = OUTSIDE;
    const refused = await inside.page(stepUrl);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain(BLOCKED);
    const post = await inside.submit(enroll, 'form', { code: '000000' });
    expect(post.status).toBe(403);
    // The passkey ceremony's endpoint too: no challenge is issued from outside.
    const csrf = enroll.doc.querySelector('input[name=csrf]')!.getAttribute('value')!;
    const options = await inside.request(`${stepUrl}/passkey/options`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }).toString() });
    expect(options.status).toBe(403);
    expect(await failures(u.email)).toEqual(['ip-not-allowed', 'ip-not-allowed', 'ip-not-allowed']);
    // Nothing was spent from outside: the page still works from inside.
    inside.address = INSIDE;
    expect((await inside.page(stepUrl)).html).toContain('autocomplete="one-time-code"');
  });

  it('/account is refused from outside with a clear page, and the session stays', async () => {
    const u = await user();
    const browser = new Device();
    await signIn(browser, web, u.email, PASSWORD);
    expect((await browser.page(`${h.running.issuer}/account`)).status).toBe(200);
    await whitelistOn();

    const refused = await browser.page(`${h.running.issuer}/account`);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('does not allow');
    const form = await browser.request(`${h.running.issuer}/account/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ currentPassword: PASSWORD, newPassword: 'Other-Pass-2', confirmPassword: 'Other-Pass-2' }).toString(),
    });
    expect(form.status).toBe(403);

    browser.address = INSIDE;
    const page = await browser.page(`${h.running.issuer}/account`);
    expect(page.status).toBe(200);
    expect(errorsOn(page)).toEqual([]);
    expect(page.html).toContain(u.email);
  });
});

describe('whitelist entries: canonical forms only', () => {
  it.each([
    ['10.0.0.010', /dotted-quad/],
    ['2130706433', /dotted-quad/],
    ['0x7f.0.0.1', /dotted-quad/],
    ['127.1', /dotted-quad/],
    ['10.0.0.1/8', /network address \(10\.0\.0\.0\/8\)/],
    ['10.0.0.0/33', /prefix length/],
    ['::ffff:7f00:0/104', /write it as IPv4 \(127\.0\.0\.0\/8\)/],
  ])('%j is refused with 400 naming the field, and nothing is stored', async (entry, message) => {
    const before = (await h.api('GET', `/organizations/${orgId}/security-policy`)).body;
    const res = await setPolicy({ login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24', entry] } } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors).toEqual([{ field: 'login.ipWhitelist.cidrs.1', message: expect.stringMatching(message) }]);
    expect((await h.api('GET', `/organizations/${orgId}/security-policy`)).body).toEqual(before);
  });

  it('a client address in IPv4-mapped IPv6 form is compared as IPv4', async () => {
    const u = await user();
    await whitelistOn();
    expect((await signIn(new Device('::ffff:203.0.113.77'), web, u.email, PASSWORD)).tokens.access_token).toBeTruthy();
    await expect(signIn(new Device('::ffff:198.51.100.7'), web, u.email, PASSWORD)).rejects.toThrow(/password step answered 403/);
  });
});
