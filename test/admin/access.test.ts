import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { registerClient } from '../helpers/oidc.js';
import { createOrganization, createUser, expectStatus } from '../helpers/setup.js';

let h: AdminHarness;
const orgs: Record<'a' | 'b', string> = { a: '', b: '' };
const PASSWORD = 'Pass-word-1';

beforeAll(async () => {
  h = await startAdminHarness();
  orgs.a = await createOrganization(h, 'A');
  orgs.b = await createOrganization(h, 'B');
  const users: Array<[string, 'a' | 'b', string]> = [
    ['owner@a.example', 'a', 'owner'],
    ['admin@b.example', 'b', 'admin'],
    ['member@a.example', 'a', 'member'],
  ];
  for (const [email, org, role] of users) {
    const userId = await createUser(h, email, PASSWORD);
    expectStatus(`add ${email} to ${org}`, await h.api('POST', `/organizations/${orgs[org]}/members`, { userId, role }), 200);
  }
});
afterAll(() => h.stop());

describe('admin API access', () => {
  it('no token: 401 with a Bearer challenge; a garbage token: 401', async () => {
    const none = await h.api('GET', `/organizations/${orgs.a}`, undefined, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.body).toMatchObject({ type: 'urn:gatehouse:problem:unauthorized', status: 401 });
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, 'not-a-token')).status).toBe(401);
  });

  it('an owner reaches their own organization and gets 403 for another', async () => {
    const token = await h.userToken('owner@a.example', PASSWORD);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, token)).status).toBe(200);
    expect((await h.api('GET', `/organizations/${orgs.a}/security-policy`, undefined, token)).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', `/organizations/${orgs.b}`],
      ['GET', `/organizations/${orgs.b}/security-policy`],
      ['PATCH', `/organizations/${orgs.b}/security-policy`, { policy: { password: { minLength: 10 } } }],
      ['POST', `/organizations/${orgs.b}/domains`, { domain: 'b.example' }],
      ['GET', `/organizations/${orgs.b}/events`],
      ['GET', `/organizations/${orgs.b}/members`],
      ['POST', '/organizations', { name: 'Mine' }],
      ['GET', '/baseline-policy'],
      ['POST', '/clients', { client_name: 'x', session_type: 'web', redirect_uris: ['https://x.example/cb'] }],
    ] as const) {
      const res = await h.api(method, path, body, token);
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    expect((await h.api('GET', `/organizations/${orgs.b}/security-policy`)).body.policy.password.minLength).toBe(8);
  });

  it('an organization admin manages their organization; a plain member cannot', async () => {
    const admin = await h.userToken('admin@b.example', PASSWORD);
    expect((await h.api('PATCH', `/organizations/${orgs.b}/security-policy`, { policy: { password: { minLength: 11 } } }, admin)).status).toBe(200);
    expect((await h.api('GET', `/organizations/${orgs.a}/security-policy`, undefined, admin)).status).toBe(403);
    const member = await h.userToken('member@a.example', PASSWORD);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, member)).status).toBe(403);
  });

  it('a token without the admin scope gets 403', async () => {
    const token = await h.userToken('owner@a.example', PASSWORD, 'openid');
    const res = await h.api('GET', `/organizations/${orgs.a}`, undefined, token);
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain('admin');
  });

  it('only the bootstrap client gets machine access', async () => {
    const other = await registerClient(h.app, h.running.issuer);
    await expect(client.clientCredentialsGrant(other.config, { scope: 'admin' })).rejects.toMatchObject({ error: 'invalid_target' });
    await expect(client.clientCredentialsGrant(other.config, { resource: `${h.running.issuer}/admin/v1` })).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });

  it('a disabled user\'s token stops working; so does a revoked one', async () => {
    const u = await h.api('POST', '/users', { email: 'temp@a.example', password: PASSWORD });
    await h.api('POST', `/organizations/${orgs.a}/members`, { userId: u.body.id, role: 'admin' });
    const token = await h.userToken('temp@a.example', PASSWORD);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, token)).status).toBe(200);
    await h.api('POST', `/users/${u.body.id}/disable`);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, token)).status).toBe(401);
    // Disabling revoked the user's grants: enabling them again does not bring the old token back; a new sign-in works.
    await h.api('POST', `/users/${u.body.id}/enable`);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, token)).status).toBe(401);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, await h.userToken('temp@a.example', PASSWORD))).status).toBe(200);

    const platform = await client.discovery(new URL(h.running.issuer), 'platform-admin', 'bootstrap-secret-0123456789abcdef0123456789', undefined, {
      execute: [client.allowInsecureRequests],
    });
    const fresh = (await client.clientCredentialsGrant(platform, { scope: 'admin' })).access_token;
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, fresh)).status).toBe(200);
    await client.tokenRevocation(platform, fresh);
    expect((await h.api('GET', `/organizations/${orgs.a}`, undefined, fresh)).status).toBe(401);
  });

  it('only an owner makes owners', async () => {
    // b.example is not verified: B reaches this baseline user only once a platform admin made it a member.
    const u = await h.api('POST', '/users', { email: 'new@b.example', password: PASSWORD });
    expect((await h.api('POST', `/organizations/${orgs.b}/members`, { userId: u.body.id, role: 'member' })).status).toBe(200);
    const admin = await h.userToken('admin@b.example', PASSWORD);
    expect((await h.api('POST', `/organizations/${orgs.b}/members`, { userId: u.body.id, role: 'owner' }, admin)).status).toBe(403);
    expect((await h.api('POST', `/organizations/${orgs.b}/members`, { userId: u.body.id, role: 'admin' }, admin)).status).toBe(200);
  });

  it('a user belongs to at most one organization', async () => {
    const u = await h.api('POST', '/users', { email: 'solo@a.example', password: PASSWORD, organizationId: orgs.a });
    expect(u.body).toMatchObject({ organizationId: orgs.a, role: 'member' });
    const res = await h.api('POST', `/organizations/${orgs.b}/members`, { userId: u.body.id });
    expect(res.status).toBe(409);
    expect((await h.api('DELETE', `/organizations/${orgs.a}/members/${u.body.id}`)).status).toBe(204);
    expect((await h.api('POST', `/organizations/${orgs.b}/members`, { userId: u.body.id })).status).toBe(200);
  });
});
