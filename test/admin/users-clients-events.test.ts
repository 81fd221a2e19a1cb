import { randomUUID } from 'node:crypto';
import type { PasskeyFactor, TotpFactor } from '../../src/stores/factors.js';
import * as client from 'openid-client';
import { Browser, errorsOn } from '../helpers/browser.js';
import { BOOTSTRAP_ID, startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { RP_CALLBACK, signIn, startSignIn } from '../helpers/oidc.js';
import { organizationWithDomain } from '../helpers/setup.js';

let h: AdminHarness;
let orgId: string;
const PASSWORD = 'Pass-word-1';

beforeAll(async () => {
  h = await startAdminHarness();
  orgId = await organizationWithDomain(h, 'Globex', 'globex.example');
});
afterAll(() => h.stop());

describe('users', () => {
  it('creates users, reporting bad input per field and conflicts', async () => {
    const ok = await h.api('POST', '/users', { email: 'Hank@Globex.example', password: PASSWORD, name: 'Hank', organizationId: orgId });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ email: 'hank@globex.example', name: 'Hank', status: 'active', organizationId: orgId, role: 'member' });
    expect(ok.body).not.toHaveProperty('passwordHash');
    expect(ok.body).toMatchObject({ twoFactorEnabled: false, factors: [] });
    // Reading one user gives the same view, and the count of unused recovery codes (a detail no list carries).
    expect((await h.api('GET', `/users/${ok.body.id}`)).body).toEqual({ ...ok.body, recoveryCodesLeft: 0 });

    expect((await h.api('POST', '/users', { email: 'hank@globex.example', password: PASSWORD })).status).toBe(409);
    const bad = await h.api('POST', '/users', { email: 'nope', password: '', colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['colour']);
    const bad2 = await h.api('POST', '/users', { email: 'nope', password: '' });
    expect(bad2.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'password']);
    const noOrg = await h.api('POST', '/users', { email: 'x@globex.example', password: PASSWORD, organizationId: 'missing' });
    expect(noOrg.status).toBe(400);
    expect(noOrg.body.errors).toEqual([{ field: 'organizationId', message: 'no such organization' }]);
    expect((await h.api('GET', '/users?email=x@globex.example')).body.items).toEqual([]);
  });

  it('pages through users with a cursor, each exactly once, and filters by email and organization', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await h.api('POST', '/users', { email: `page${i}@paging.example`, password: PASSWORD })).body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string; email: string }>; nextCursor: string | null } } = await h.api(
        'GET',
        `/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((u) => u.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect((await h.api('GET', '/users?email=PAGE3@paging.example')).body.items.map((u: { id: string }) => u.id)).toEqual([ids[3]]);
    const inOrg = (await h.api('GET', `/users?organizationId=${orgId}`)).body.items;
    expect(inOrg.every((u: { organizationId: string }) => u.organizationId === orgId)).toBe(true);
    expect((await h.api('GET', '/users?limit=0')).status).toBe(400);
    expect((await h.api('GET', '/users?limit=201')).status).toBe(400);
  });

  it('a page of users shows each exactly as reading that user does: factors, and the password expiry of the policy governing their domain', async () => {
    const viewsOrg = await organizationWithDomain(h, 'Views', 'views.example');
    await h.app.services.policies.update(viewsOrg, 'merge', { password: { expirationDays: 90 } }, {
      actor: { type: 'system', id: 'test' },
      request: { ip: null, userAgent: null },
    });
    const ids: string[] = [];
    for (const email of ['a@views.example', 'b@views.example', 'c@listed.example', 'd@views.example']) {
      ids.push((await h.api('POST', '/users', { email, password: PASSWORD, name: email })).body.id);
    }
    expect(await h.app.services.factorStore.addFirst(totpOf(ids[1]!, 1_800_000_000), 0)).toBe(true);
    expect(await h.app.services.factorStore.addFirst(totpOf(ids[2]!, 1_800_000_500), 0)).toBe(true);
    expect(await h.app.services.factorStore.add(passkeyOf(ids[2]!, 1_800_000_600))).toBe(true);
    const singles = await Promise.all(ids.map(async (id) => {
      const { recoveryCodesLeft: _detail, ...view } = (await h.api('GET', `/users/${id}`)).body;
      return view;
    }));
    expect(singles.map((u) => u.passwordExpiresAt === null)).toEqual([false, false, true, false]);
    expect(singles.map((u) => u.factors.length)).toEqual([0, 1, 2, 0]);
    const listed: Array<{ id: string }> = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await h.api('GET', `/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      listed.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(ids.map((id) => listed.find((u) => u.id === id))).toEqual(singles);
  });

  it('explains which policy governs a user', async () => {
    const governed = await h.api('POST', '/users', { email: 'ivy@globex.example', password: PASSWORD });
    expect((await h.api('GET', `/users/${governed.body.id}/effective-policy`)).body).toMatchObject({
      source: 'organization',
      organizationId: orgId,
      domain: 'globex.example',
    });
    const other = await h.api('POST', '/users', { email: 'ivy@elsewhere.example', password: PASSWORD });
    expect((await h.api('GET', `/users/${other.body.id}/effective-policy`)).body).toMatchObject({ source: 'baseline', organizationId: null, domain: null });
    expect((await h.api('GET', '/users/missing/effective-policy')).status).toBe(404);
  });

  it('a disabled user cannot sign in or refresh, and is told nothing more than for a wrong password', async () => {
    const u = await h.api('POST', '/users', { email: 'jude@globex.example', password: PASSWORD });
    const web = await (await import('../helpers/oidc.js')).registerClient(h.app, h.running.issuer);
    const { tokens } = await signIn(new Browser(), web, 'jude@globex.example', PASSWORD);
    expect((await h.api('POST', `/users/${u.body.id}/disable`)).body.status).toBe('disabled');
    await expect(client.refreshTokenGrant(web.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email: 'jude@globex.example', password: PASSWORD });
    expect(res.status).toBe(401);
    const { parse } = await import('node-html-parser');
    const html = await res.text();
    expect(errorsOn({ ...loginPage, html, doc: parse(html) })).toEqual(['Incorrect email or password.']);
  });

  it('disabling ends the user\'s sessions and grants: enabling again does not bring them back', async () => {
    const u = await h.api('POST', '/users', { email: 'kit@globex.example', password: PASSWORD });
    const web = await (await import('../helpers/oidc.js')).registerClient(h.app, h.running.issuer);
    const { tokens } = await signIn(new Browser(), web, 'kit@globex.example', PASSWORD);
    expect((await h.app.services.oidcStore.listByAccount(u.body.id, 'Session')).length).toBe(1);
    expect((await h.api('POST', `/users/${u.body.id}/disable`)).status).toBe(200);
    expect((await h.api('POST', `/users/${u.body.id}/enable`)).body.status).toBe('active');
    await expect(client.refreshTokenGrant(web.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await h.app.services.oidcStore.listByAccount(u.body.id, 'Session')).toEqual([]);
    const events = await h.api('GET', '/events?type=user.disabled');
    expect(events.body.items.find((e: { targetId: string }) => e.targetId === u.body.id)?.data).toMatchObject({ endedSessions: 1 });
  });
});

describe('clients', () => {
  it('registers, reads and deletes clients; the secret works once shown', async () => {
    const created = await h.api('POST', '/clients', { client_name: 'Portal', session_type: 'web', redirect_uris: [RP_CALLBACK] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ client_name: 'Portal', session_type: 'web', first_party: true, client_secret: expect.any(String) });
    const { client_id, client_secret } = created.body;
    const read = await h.api('GET', `/clients/${client_id}`);
    expect(read.body).not.toHaveProperty('client_secret');
    const config = await client.discovery(new URL(h.running.issuer), client_id, client_secret, undefined, { execute: [client.allowInsecureRequests] });
    expect((await client.clientCredentialsGrant(config)).access_token).toBeTruthy();

    expect((await h.api('DELETE', `/clients/${client_id}`)).status).toBe(204);
    expect((await h.api('GET', `/clients/${client_id}`)).status).toBe(404);
    await expect(client.clientCredentialsGrant(config)).rejects.toBeTruthy();
  });

  it('changes a registration: the provider follows the new redirect URIs at once; audited with before and after', async () => {
    const created = await h.api('POST', '/clients', { client_name: 'Portal', session_type: 'web', redirect_uris: [RP_CALLBACK] });
    const { client_id, client_secret } = created.body;
    const authorize = (redirectUri: string) =>
      fetch(`${h.running.issuer}/auth?${new URLSearchParams({ client_id, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`, { redirect: 'manual' });
    expect((await authorize(RP_CALLBACK)).status).toBe(303);

    const moved = `${RP_CALLBACK}/moved`;
    const res = await h.api('PUT', `/clients/${client_id}`, { client_name: 'Portal v2', redirect_uris: [moved], post_logout_redirect_uris: [`${RP_CALLBACK}/bye`], third_party: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ client_id, client_name: 'Portal v2', session_type: 'web', first_party: false, redirect_uris: [moved], backchannel_logout_uri: null, built_in: false });
    expect((await authorize(RP_CALLBACK)).status).toBe(400);
    expect((await authorize(moved)).status).toBe(303);
    // The secret is unchanged.
    const config = await client.discovery(new URL(h.running.issuer), client_id, client_secret, undefined, { execute: [client.allowInsecureRequests] });
    expect((await client.clientCredentialsGrant(config)).access_token).toBeTruthy();

    const [event] = (await h.api('GET', '/events?type=client.updated&limit=1')).body.items;
    expect(event).toMatchObject({ targetId: client_id, data: { before: { client_name: 'Portal', redirect_uris: [RP_CALLBACK] }, after: { client_name: 'Portal v2', redirect_uris: [moved] } } });
  });

  it('refuses to change the session type, a built-in client, or a bad URI; changes nothing then', async () => {
    const { client_id } = (await h.api('POST', '/clients', { client_name: 'App', session_type: 'mobile', redirect_uris: ['com.example.app:/cb'] })).body;
    const kind = await h.api('PUT', `/clients/${client_id}`, { client_name: 'App', session_type: 'web', redirect_uris: ['com.example.app:/cb'], post_logout_redirect_uris: [], third_party: false });
    expect(kind.status).toBe(400);
    const uri = await h.api('PUT', `/clients/${client_id}`, { client_name: 'App', redirect_uris: ['http://evil.example/cb'], post_logout_redirect_uris: [], third_party: false });
    expect(uri.status).toBe(400);
    expect(uri.body.errors).toEqual([{ field: 'redirectUris.0', message: expect.stringContaining('loopback host') }]);
    expect((await h.api('GET', `/clients/${client_id}`)).body).toMatchObject({ client_name: 'App', session_type: 'mobile', redirect_uris: ['com.example.app:/cb'] });
    const whole = { client_name: 'Mine', redirect_uris: ['https://x.example/cb'], post_logout_redirect_uris: [], third_party: false };
    expect((await h.api('PUT', `/clients/${BOOTSTRAP_ID}`, whole)).status).toBe(409);
    expect((await h.api('PUT', '/clients/no-such-client', whole)).status).toBe(404);
    // Nothing defaults: a third party left out is not made first party (it would skip consent).
    const partner = (await h.api('POST', '/clients', { client_name: 'Partner', session_type: 'web', redirect_uris: [RP_CALLBACK], third_party: true })).body.client_id;
    const partial = await h.api('PUT', `/clients/${partner}`, { client_name: 'Partner', redirect_uris: [`${RP_CALLBACK}/v2`] });
    expect(partial.status).toBe(400);
    expect(partial.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['post_logout_redirect_uris', 'third_party']);
    expect((await h.api('GET', `/clients/${partner}`)).body).toMatchObject({ first_party: false, redirect_uris: [RP_CALLBACK] });
  });

  it('a redirect URI removed while a sign-in is under way gets no code from it', async () => {
    const { client_id, client_secret } = (await h.api('POST', '/clients', { client_name: 'Moving app', session_type: 'web', redirect_uris: [RP_CALLBACK, `${RP_CALLBACK}/new`] })).body;
    const config = await client.discovery(new URL(h.running.issuer), client_id, client_secret, undefined, { execute: [client.allowInsecureRequests] });
    expect((await h.api('POST', '/users', { email: 'mover@unclaimed.example', password: 'Moving-Pass-42' })).status).toBe(201);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, { clientId: client_id, clientSecret: client_secret, config });
    const put = await h.api('PUT', `/clients/${client_id}`, { client_name: 'Moving app', redirect_uris: [`${RP_CALLBACK}/new`], post_logout_redirect_uris: [], third_party: false });
    expect(put.status).toBe(200);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email: 'mover@unclaimed.example', password: 'Moving-Pass-42' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('sign-in settings changed while you were signing in');
  });

  it('refuses a registration the provider could not load (its own client rules), and keeps the client working', async () => {
    const authorize = (clientId: string) =>
      fetch(`${h.running.issuer}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: 'com.example.app:/cb', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`, { redirect: 'manual' });
    const { client_id } = (await h.api('POST', '/clients', { client_name: 'App', session_type: 'mobile', redirect_uris: ['com.example.app:/cb'] })).body;
    expect((await authorize(client_id)).status).toBe(303);
    const put = await h.api('PUT', `/clients/${client_id}`, { client_name: 'App', redirect_uris: ['com.example.app:/cb'], post_logout_redirect_uris: [], backchannel_logout_uri: 'com.example.app:/logout', third_party: false });
    expect(put.status).toBe(400);
    expect(put.body.errors).toEqual([{ field: 'backchannel_logout_uri', message: expect.stringContaining('backchannel_logout_uri') }]);
    expect((await authorize(client_id)).status).toBe(303);
    const created = await h.api('POST', '/clients', { client_name: 'App', session_type: 'desktop', redirect_uris: ['https://localhost/cb'] });
    expect(created.status).toBe(400);
  });

  it('reports every bad field', async () => {
    const res = await h.api('POST', '/clients', { client_name: '', session_type: 'tv', redirect_uris: [] });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['client_name', 'redirect_uris', 'session_type']);
    const uri = await h.api('POST', '/clients', { client_name: 'App', session_type: 'mobile', redirect_uris: ['http://evil.example/cb'] });
    expect(uri.status).toBe(400);
    expect(uri.body.errors[0].field).toBe('redirectUris.0');
  });
});

describe('audit trail', () => {
  it('records admin changes with before/after, actor, IP and user agent, never a password, with control characters escaped', async () => {
    // Control characters never get this far (the input guard refuses them, naming the field); line separators do, and are escaped.
    const refused = await h.api('POST', '/users', { email: 'kai@globex.example', password: 'Secret-Pass-99', organizationId: orgId, name: 'Kai\u001b[2J\nFAKE' });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ field: 'name', message: 'must not contain control characters' }]);
    const res = await fetch(`${h.running.issuer}/admin/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.platformToken}`, 'content-type': 'application/json', 'user-agent': 'admin-script/1.0' },
      body: JSON.stringify({ email: 'kai@globex.example', password: 'Secret-Pass-99', organizationId: orgId, name: 'Kai\u2028FAKE LOG LINE' }),
    });
    expect(res.status).toBe(201);
    const events = await h.api('GET', `/organizations/${orgId}/events?type=user.created&limit=1`);
    const [event] = events.body.items;
    expect(event).toMatchObject({
      type: 'user.created',
      actorType: 'client',
      actorId: 'platform-admin',
      organizationId: orgId,
      targetType: 'user',
      ip: '127.0.0.1',
      userAgent: 'admin-script/1.0',
      data: { after: { email: 'kai@globex.example', name: 'Kai\\u2028FAKE LOG LINE' } },
    });
    expect(Date.parse(event.at)).not.toBeNaN();
    expect(event.at.endsWith('Z')).toBe(true);
    const everything = JSON.stringify((await h.app.services.db('audit_events').select('*')));
    expect(everything).not.toContain('Secret-Pass-99');

    const policy = await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { password: { minLength: 9 } } });
    expect(policy.status).toBe(200);
    const changed = (await h.api('GET', `/organizations/${orgId}/events?type=security_policy.updated`)).body.items[0];
    expect(changed.data.before.password.minLength).toBe(8);
    expect(changed.data.after.password.minLength).toBe(9);
  });

  it('records sign-in successes and failures in the governing organization\'s trail', async () => {
    await h.api('POST', '/users', { email: 'lee@globex.example', password: PASSWORD });
    const web = await (await import('../helpers/oidc.js')).registerClient(h.app, h.running.issuer);
    await signIn(new Browser(), web, 'lee@globex.example', PASSWORD);
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    await browser.submit(loginPage, 'form[action$="/password"]', { email: 'lee@globex.example', password: 'wrong-Pass-1' });
    await browser.submit(loginPage, 'form[action$="/password"]', { email: 'ghost@globex.example', password: 'wrong-Pass-1' });
    const events = (await h.api('GET', `/organizations/${orgId}/events?type=sign_in.succeeded,sign_in.failed&limit=3`)).body.items;
    expect(events.map((e: { type: string; data: { email: string } }) => [e.type, e.data.email])).toEqual([
      ['sign_in.failed', 'ghost@globex.example'],
      ['sign_in.failed', 'lee@globex.example'],
      ['sign_in.succeeded', 'lee@globex.example'],
    ]);
    expect(events[0]).toMatchObject({ actorType: 'anonymous', ip: '127.0.0.1' });
    expect(JSON.stringify(events)).not.toContain('wrong-Pass-1');
  });

  it('filters by time and pages with a cursor', async () => {
    const all = (await h.api('GET', `/organizations/${orgId}/events?limit=200`)).body.items as Array<{ id: string; at: string }>;
    expect(all.length).toBeGreaterThan(4);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await h.api(
        'GET',
        `/organizations/${orgId}/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      paged.push(...res.body.items.map((e) => e.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.map((e) => e.id));
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await h.api('GET', `/organizations/${orgId}/events?since=${future}`)).body.items).toEqual([]);
    expect((await h.api('GET', `/organizations/${orgId}/events?until=${encodeURIComponent(all[all.length - 1]!.at)}`)).body.items).toEqual([]);
    expect((await h.api('GET', `/organizations/${orgId}/events?since=yesterday`)).body.errors[0].field).toBe('since');
  });
});

describe('second factors of a user', () => {
  it('shows each factor (never a secret, public key or credential ID); reset-2fa removes all of them and mails the user', async () => {
    const u = (await h.api('POST', '/users', { email: 'factors@globex.example', password: PASSWORD })).body;
    const factors = h.app.services.factorStore;
    expect(await factors.addFirst(totpOf(u.id, 1_800_000_000), 0)).toBe(true);
    expect(await factors.add(passkeyOf(u.id, 1_800_000_100))).toBe(true);
    expect(await factors.advancePasskeyCounter(passkeyId, 2, 1_800_000_200)).toBe(true);
    const view = await h.api('GET', `/users/${u.id}`);
    expect(view.body.twoFactorEnabled).toBe(true);
    expect(view.body.factors).toEqual([
      { id: expect.any(String), kind: 'totp', label: 'Authenticator app', createdAt: '2027-01-15T08:00:00.000Z', lastUsedAt: null },
      { id: passkeyId, kind: 'passkey', label: 'Security key', createdAt: '2027-01-15T08:01:40.000Z', lastUsedAt: '2027-01-15T08:03:20.000Z', deviceType: 'singleDevice' },
    ]);
    expect(JSON.stringify(view.body)).not.toMatch(/sealed-seed|cose-key|credential-/);

    const before = h.smtp.received.length;
    const reset = await h.api('POST', `/users/${u.id}/reset-2fa`);
    expect(reset.status).toBe(200);
    expect(reset.body).toMatchObject({ twoFactorEnabled: false, factors: [] });
    expect(await factors.listByAccount(u.id)).toEqual([]);
    await h.smtp.waitFor((m) => m.to === 'factors@globex.example' && m.subject.includes('Two-step verification was removed'), before);
  });
});

let passkeyId = '';
const totpOf = (accountId: string, createdAt: number): TotpFactor =>
  ({ id: randomUUID(), accountId, kind: 'totp', label: 'Authenticator app', createdAt, lastUsedAt: null, secret: 'sealed-seed', lastStep: null });
function passkeyOf(accountId: string, createdAt: number): PasskeyFactor {
  passkeyId = randomUUID();
  return {
    id: passkeyId,
    accountId,
    kind: 'passkey',
    label: 'Security key',
    createdAt,
    lastUsedAt: null,
    credentialId: `credential-${randomUUID()}`,
    publicKey: 'cose-key',
    signCount: 1,
    transports: ['usb'],
    deviceType: 'singleDevice',
    backedUp: false,
    aaguid: null,
    userVerified: false,
  };
}

describe('policy impact preview and the lockout guard', () => {
  it('counts who would have to change a password or enroll in 2FA, and whether the caller would be outside the whitelist', async () => {
    const a = await h.api('POST', '/users', { email: 'old@globex.example', password: PASSWORD });
    // Users with a factor of either kind need not enroll.
    const withApp = (await h.api('POST', '/users', { email: 'app@globex.example', password: PASSWORD })).body.id;
    const withKey = (await h.api('POST', '/users', { email: 'key@globex.example', password: PASSWORD })).body.id;
    expect(await h.app.services.factorStore.addFirst(totpOf(withApp, 1), 0)).toBe(true);
    expect(await h.app.services.factorStore.addFirst(passkeyOf(withKey, 1), 0)).toBe(true);
    await h.app.services.db('accounts').where({ id: a.body.id }).update({ password_changed_at: Math.floor(Date.now() / 1000) - 100 * 86400 });
    const governed = (await h.api('GET', `/users?limit=200`)).body.items.filter((u: { email: string }) => u.email.endsWith('@globex.example')).length;
    const res = await h.api('POST', `/organizations/${orgId}/security-policy/preview`, {
      policy: {
        password: { expirationDays: 90 },
        authentication: { enforce2fa: true },
        login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      governedUsers: governed,
      mustChangePassword: 1,
      mustEnroll2fa: governed - 2,
      callerAddress: '127.0.0.1',
      callerOutsideWhitelist: true,
    });
    const inside = await h.api('POST', `/organizations/${orgId}/security-policy/preview`, {
      policy: { login: { ipWhitelist: { enabled: true, cidrs: ['127.0.0.0/8'] } } },
    });
    expect(inside.body).toMatchObject({ mustChangePassword: 0, mustEnroll2fa: 0, callerOutsideWhitelist: false });
    const bad = await h.api('POST', `/organizations/${orgId}/security-policy/preview`, { policy: { password: { minLength: 2 } } });
    expect(bad.status).toBe(400);
  });

  it('refuses a whitelist that shuts out the calling admin unless confirmLockout is set', async () => {
    const owner = await h.api('POST', '/users', { email: 'boss@globex.example', password: PASSWORD, organizationId: orgId });
    await h.api('POST', `/organizations/${orgId}/members`, { userId: owner.body.id, role: 'owner' });
    const token = await h.userToken('boss@globex.example', PASSWORD);
    const lockMeOut = { policy: { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } } };
    const refused = await h.api('PATCH', `/organizations/${orgId}/security-policy`, lockMeOut, token);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('127.0.0.1');
    expect((await h.api('GET', `/organizations/${orgId}/security-policy`)).body.policy.login.ipWhitelist.enabled).toBe(false);
    const includesMe = { policy: { login: { ipWhitelist: { enabled: true, cidrs: ['127.0.0.1'] } } } };
    expect((await h.api('PATCH', `/organizations/${orgId}/security-policy`, includesMe, token)).status).toBe(200);
    const confirmed = await h.api('PATCH', `/organizations/${orgId}/security-policy`, { ...lockMeOut, confirmLockout: true }, token);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.policy.login.ipWhitelist.cidrs).toEqual(['203.0.113.0/24']);
    await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { login: { ipWhitelist: { enabled: false, cidrs: [] } } } });
  });
});
