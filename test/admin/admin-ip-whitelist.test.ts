import { request } from 'node:http';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';

/**
 * Issue 7, item 5 (one checkpoint): admin API calls made with the user's own token are refused (403)
 * when the IP whitelist of the user's policy excludes the caller. The client address is the socket's,
 * or the one a trusted proxy forwarded; the platform-admin machine client is not a user and is not
 * checked.
 */
let h: AdminHarness;
let orgId: string;
let token: string;
let baselineToken: string;
const PASSWORD = 'Pass-word-1';
const PROXY = '127.0.0.2';

const setWhitelist = async (enabled: boolean, cidrs: string[]) => {
  const res = await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { login: { ipWhitelist: { enabled, cidrs } } } });
  expect(res.status).toBe(200);
  expect(res.body.policy.login.ipWhitelist).toEqual({ enabled, cidrs });
};

/** A call from a chosen local address (loopback has all of 127/8), optionally with X-Forwarded-For. */
function callFrom(localAddress: string, path: string, bearer: string, forwardedFor?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const url = new URL(`${h.running.issuer}/admin/v1${path}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        localAddress,
        headers: { authorization: `Bearer ${bearer}`, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      },
      (res) => {
        let data = '';
        res.on('data', (chunk) => (data += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: data ? JSON.parse(data) : undefined }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  h = await startAdminHarness({ TRUSTED_PROXIES: PROXY });
  orgId = (await h.api('POST', '/organizations', { name: 'Walled' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'walled.test' });
  h.dns.txt.set('_gatehouse-challenge.walled.test', [[claim.body.verification.value]]);
  const verified = await h.api('POST', `/organizations/${orgId}/domains/walled.test/verify`);
  expect([verified.status, verified.body.status]).toEqual([200, 'verified']);
  for (const email of ['admin@walled.test', 'helper@elsewhere.test']) {
    const user = await h.api('POST', '/users', { email, password: PASSWORD });
    expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: user.body.id, role: 'admin' })).status).toBe(200);
  }
  expect((await h.api('GET', `/users?email=admin@walled.test`)).body.items[0]).toBeDefined();
  // Tokens first, while the whitelist is off (the sign-in form is a checkpoint of its own).
  token = await h.userToken('admin@walled.test', PASSWORD);
  baselineToken = await h.userToken('helper@elsewhere.test', PASSWORD);
  expect((await h.api('GET', `/organizations/${orgId}`, undefined, token)).status).toBe(200);
});
afterAll(() => h.stop());

describe('the IP whitelist guards admin API calls made with the user\'s own token', () => {
  it('a whitelist that excludes the caller: 403 for the user\'s token, nothing changes; the platform token is unaffected', async () => {
    await setWhitelist(true, ['10.0.0.0/8']);
    const res = await h.api('GET', `/organizations/${orgId}`, undefined, token);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.detail).toContain('IP whitelist');
    expect(res.body.detail).toContain('127.0.0.1');
    // Not even the whitelist itself can be changed from outside it.
    const widen = await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { login: { ipWhitelist: { enabled: false, cidrs: [] } } } }, token);
    expect(widen.status).toBe(403);
    expect((await h.api('GET', `/organizations/${orgId}/security-policy`)).body.policy.login.ipWhitelist).toEqual({ enabled: true, cidrs: ['10.0.0.0/8'] });
    // The platform admin is not a user: not checked.
    expect((await h.api('GET', `/organizations/${orgId}`)).status).toBe(200);
    // A user governed by another policy (here the baseline) is not fenced by this organization's whitelist.
    expect((await h.api('GET', `/organizations/${orgId}`, undefined, baselineToken)).status).toBe(200);
  });

  it('X-Forwarded-For counts only through a trusted proxy', async () => {
    await setWhitelist(true, ['10.0.0.0/8']);
    // From 127.0.0.1, not a trusted proxy: the header is the caller's own claim and is ignored.
    expect((await callFrom('127.0.0.1', `/organizations/${orgId}`, token, '10.1.2.3')).status).toBe(403);
    // Through the trusted proxy: the forwarded address is the client's.
    expect((await callFrom(PROXY, `/organizations/${orgId}`, token, '10.1.2.3')).status).toBe(200);
    expect((await callFrom(PROXY, `/organizations/${orgId}`, token, '192.0.2.7')).status).toBe(403);
  });

  it('back inside the whitelist, or with it off, the same token works again', async () => {
    await setWhitelist(true, ['127.0.0.0/8']);
    expect((await h.api('GET', `/organizations/${orgId}`, undefined, token)).status).toBe(200);
    await setWhitelist(true, ['10.0.0.0/8']);
    expect((await h.api('GET', `/organizations/${orgId}`, undefined, token)).status).toBe(403);
    await setWhitelist(false, []);
    expect((await h.api('GET', `/organizations/${orgId}`, undefined, token)).status).toBe(200);
  });
});
