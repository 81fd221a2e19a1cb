import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { forgotPasswordLink, pageOf, resetThroughLink } from '../helpers/password-flows.js';
import { organizationWithDomain, verifyDomain } from '../helpers/setup.js';

const PASSWORD = 'Right-Pass-1';
const WRONG = 'Wrong-Pass-1';
const GENERIC = 'Incorrect email or password.';
// The lock says how long it still lasts (strategies/password.ts lockedFor).
const LOCKED = expect.stringMatching(/^Too many failed sign-ins\. Try again in \d+ minutes?, or reset your password\.$/);
const BLOCKED = 'Your organization does not allow signing in from this network.';

let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;

beforeAll(async () => {
  // Behind a trusted proxy on loopback: X-Forwarded-For is believed from 127.0.0.1 only.
  h = await startAdminHarness({ TRUSTED_PROXIES: '127.0.0.1', PASSWORD_RESET_LIMIT_PER_HOUR: '100' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'Vault', 'vault.example');
});
afterAll(() => h.stop());

async function user(domain = 'vault.example') {
  const email = `v${++n}@${domain}`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** One password submission from a fresh sign-in; returns the status and the errors shown. */
async function attempt(email: string, password: string, headers: Record<string, string> = {}) {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password }, headers);
  if (res.status === 303) return { status: 303, errors: [] as string[] };
  return { status: res.status, errors: errorsOn(await pageOf(res, loginPage.url)) };
}

const reasons = async (email: string) =>
  (await h.api('GET', `/organizations/${orgId}/events?type=sign_in.failed&limit=200`)).body.items
    .filter((e: { data: { email: string } }) => e.data.email === email)
    .map((e: { data: { reason: string } }) => e.data.reason);

describe('lockout', () => {
  it('locks after 5 consecutive failures; then even the right password is refused', async () => {
    const u = await user();
    for (let i = 0; i < 5; i++) expect(await attempt(u.email, WRONG)).toEqual({ status: 401, errors: [GENERIC] });
    expect(await attempt(u.email, PASSWORD)).toEqual({ status: 429, errors: [LOCKED] });
    expect((await h.api('GET', `/users/${u.id}`)).body.lockedUntil).toEqual(expect.any(String));
    expect((await reasons(u.email)).sort()).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'locked']);
  });

  it('counts atomically: 20 parallel wrong attempts check the hash 5 times and lock', async () => {
    const u = await user();
    const results = await Promise.all(Array.from({ length: 20 }, () => attempt(u.email, WRONG)));
    expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
    const r = await reasons(u.email);
    expect(r.filter((x: string) => x === 'invalid')).toHaveLength(5); // only these reached the password hash
    expect(await attempt(u.email, PASSWORD)).toMatchObject({ status: 429 });
  });

  it('a successful sign-in resets the count', async () => {
    const u = await user();
    for (let i = 0; i < 4; i++) await attempt(u.email, WRONG);
    expect((await attempt(u.email, PASSWORD)).status).toBe(303);
    for (let i = 0; i < 4; i++) await attempt(u.email, WRONG);
    expect((await attempt(u.email, PASSWORD)).status).toBe(303);
  });

  it('the lock ends after the lockout duration, when an admin unlocks, or with a password reset', async () => {
    const expires = await user();
    for (let i = 0; i < 5; i++) await attempt(expires.email, WRONG);
    await h.app.services.db('accounts').where({ id: expires.id }).update({ locked_until: Math.floor(Date.now() / 1000) - 1 });
    expect((await attempt(expires.email, PASSWORD)).status).toBe(303);

    const unlocked = await user();
    for (let i = 0; i < 5; i++) await attempt(unlocked.email, WRONG);
    const res = await h.api('POST', `/users/${unlocked.id}/unlock`);
    expect(res.status).toBe(200);
    expect(res.body.lockedUntil).toBeNull();
    expect((await attempt(unlocked.email, PASSWORD)).status).toBe(303);
    const events = (await h.api('GET', `/organizations/${orgId}/events?type=user.unlocked`)).body.items;
    expect(events[0]).toMatchObject({ targetId: unlocked.id, data: { before: { failedAttempts: 5 } } });

    const reset = await user();
    for (let i = 0; i < 5; i++) await attempt(reset.email, WRONG);
    expect(await resetThroughLink(await forgotPasswordLink(h, reset.email), 'Fresh-Pass-2')).toEqual({ accepted: true, errors: [] });
    expect((await attempt(reset.email, 'Fresh-Pass-2')).status).toBe(303);
  });

  it('an unknown address is answered like a real one, lock included', async () => {
    const email = `ghost${++n}@vault.example`;
    for (let i = 0; i < 5; i++) expect(await attempt(email, WRONG)).toEqual({ status: 401, errors: [GENERIC] });
    expect(await attempt(email, WRONG)).toEqual({ status: 429, errors: [LOCKED] });
  });
});

describe('IP whitelist', () => {
  const whitelist = (enabled: boolean) =>
    h.api('PATCH', `/organizations/${orgId}/security-policy`, {
      policy: { login: { ipWhitelist: enabled ? { enabled: true, cidrs: ['203.0.113.0/24', '2001:db8::/32'] } : { enabled: false, cidrs: [] } } },
    });
  afterEach(() => whitelist(false));

  it('refuses a sign-in from outside the listed blocks before the password is checked, without counting toward lockout', async () => {
    const u = await user();
    expect((await whitelist(true)).status).toBe(200);
    for (let i = 0; i < 7; i++) expect(await attempt(u.email, WRONG)).toEqual({ status: 403, errors: [BLOCKED] });
    expect(await attempt(u.email, PASSWORD)).toEqual({ status: 403, errors: [BLOCKED] });
    expect((await h.app.services.db('accounts').where({ id: u.id }).first()).failed_attempts).toBe(0);
    expect(await reasons(u.email)).toEqual(Array(8).fill('ip-not-allowed'));
  });

  it('reads the client address through the trusted proxy only, from the right', async () => {
    const u = await user();
    await whitelist(true);
    expect((await attempt(u.email, PASSWORD, { 'x-forwarded-for': '203.0.113.5' })).status).toBe(303);
    expect((await attempt(u.email, PASSWORD, { 'x-forwarded-for': '2001:db8::7' })).status).toBe(303);
    // A client-written leftmost entry does not help: the hop next to the proxy is 198.51.100.1.
    expect((await attempt(u.email, PASSWORD, { 'x-forwarded-for': '203.0.113.5, 198.51.100.1' })).status).toBe(403);
  });

  it('governs only the organization\'s domain, and stops at once when the claim is revoked', async () => {
    const outsider = await user('elsewhere.example');
    const member = await user();
    await whitelist(true);
    expect((await attempt(outsider.email, PASSWORD)).status).toBe(303);
    expect((await attempt(member.email, PASSWORD)).status).toBe(403);
    await h.api('DELETE', `/organizations/${orgId}/domains/vault.example`);
    try {
      expect((await attempt(member.email, PASSWORD)).status).toBe(303);
    } finally {
      await verifyDomain(h, orgId, 'vault.example');
    }
    expect((await attempt(member.email, PASSWORD)).status).toBe(403);
  });

  it('a refused sign-in never reaches the client', async () => {
    const u = await user();
    await whitelist(true);
    const browser = new Browser();
    await expect(signIn(browser, web, u.email, PASSWORD)).rejects.toThrow(/password step answered 403/);
  });
});
