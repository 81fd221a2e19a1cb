/**
 * Item 19: a stored policy that no longer parses fails closed. Start-up refuses naming the organization;
 * at run time the sign-ins it governs get 503 (never the defaults) and an error is logged; the admin API
 * says so; PUT replaces it. Stored documents carry a schema version, and a migration upgrades old ones.
 */
import { jest } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { migrationSource } from '../../migrations/index.js';
import { POLICY_DOCUMENT_VERSION, readPolicyDocument, upgradePolicyDocument } from '../../src/policy/policy-documents.js';
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';
import { openDb } from '../../src/stores/db.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { testBackend } from '../helpers/backend.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';

jest.setTimeout(60_000);

describe('policy documents (pure)', () => {
  it('version 0 (stored before versions) is upgraded by filling every missing field with the version-1 defaults', () => {
    const empty = upgradePolicyDocument({}, 0);
    expect(empty).toEqual({ ok: true, version: POLICY_DOCUMENT_VERSION, document: DEFAULT_POLICY });
    const old = upgradePolicyDocument({ password: { minLength: 12, expirationDays: null }, login: { ipWhitelist: { enabled: true, cidrs: ['10.0.0.0/8'] } } }, 0);
    expect(old.ok && old.document).toEqual({
      ...DEFAULT_POLICY,
      password: { ...DEFAULT_POLICY.password, minLength: 12 },
      login: { lockoutThreshold: 5, ipWhitelist: { enabled: true, cidrs: ['10.0.0.0/8'] } },
    });
  });

  it('refuses what cannot be read instead of falling back to the defaults', () => {
    expect(readPolicyDocument('{"password":{"minLength":2}}', 1)).toEqual({ ok: false, reason: 'password.minLength must be at least 6' });
    expect(readPolicyDocument('{"authentication":{"enforce2fa":"yes"}}', 1)).toMatchObject({ ok: false, reason: expect.stringContaining('authentication.enforce2fa') });
    expect(readPolicyDocument('{"colour":"red"}', 1)).toMatchObject({ ok: false, reason: expect.stringContaining('colour') });
    expect(readPolicyDocument('not json', 1)).toEqual({ ok: false, reason: 'the document is not valid JSON' });
    expect(readPolicyDocument('[1]', 0)).toEqual({ ok: false, reason: 'the document is not a JSON object' });
    expect(readPolicyDocument('{}', POLICY_DOCUMENT_VERSION + 1)).toMatchObject({ ok: false, reason: expect.stringContaining('newer') });
    expect(readPolicyDocument(JSON.stringify(DEFAULT_POLICY), POLICY_DOCUMENT_VERSION)).toEqual({ ok: true, policy: DEFAULT_POLICY });
  });
});

describe('the migration', () => {
  it('upgrades an old-shaped stored document to the current version, and leaves an unreadable one for start-up to name', async () => {
    const backend = testBackend();
    const config = backend.config({ ISSUER: 'http://127.0.0.1:1' });
    const db = openDb(config.database);
    const schemaName = config.database.kind === 'postgres' ? config.database.schema : undefined;
    try {
      if (schemaName) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schemaName]);
      // Every migration before this one, then documents as an older Gatehouse stored them (no version).
      for (;;) {
        const [, pending] = (await db.migrate.list({ migrationSource, schemaName })) as [unknown[], Array<string | { file?: string; name?: string }>];
        const next = pending[0];
        const name = typeof next === 'string' ? next : (next?.file ?? next?.name);
        expect(name).toBeDefined();
        if (name === '20261128000013_policy_documents') break;
        await db.migrate.up({ migrationSource, schemaName });
      }
      const now = Math.floor(Date.now() / 1000);
      await db('security_policies').insert([
        { subject: 'org-old', policy: JSON.stringify({ password: { minLength: 12 }, authentication: { enforce2fa: true } }), updated_at: now },
        { subject: 'org-broken', policy: 'this is not json', updated_at: now },
      ]);
      await db.migrate.latest({ migrationSource, schemaName });
      const rows = await db('security_policies').orderBy('subject').select('subject', 'policy', 'schema_version');
      const bySubject = Object.fromEntries(rows.map((r) => [r.subject, r]));
      expect(Number(bySubject['org-old'].schema_version)).toBe(POLICY_DOCUMENT_VERSION);
      expect(JSON.parse(bySubject['org-old'].policy)).toEqual({
        ...DEFAULT_POLICY,
        password: { ...DEFAULT_POLICY.password, minLength: 12 },
        authentication: { enforce2fa: true },
      });
      expect(Number(bySubject['org-broken'].schema_version)).toBe(0);
      expect(bySubject['org-broken'].policy).toBe('this is not json');
    } finally {
      await db.destroy();
      await backend.cleanup();
    }
  });
});

describe('an unreadable stored policy fails closed', () => {
  const PASSWORD = 'Governed-Pass-12';
  const GOVERNED = 'grace@broken.example';
  const BASELINE_USER = 'bart@elsewhere.example';
  let h: AdminHarness;
  let web: TestClient;
  let orgId: string;
  const logged: string[] = [];

  const breakPolicy = (document: string) => h.app.services.db('security_policies').where({ subject: orgId }).update({ policy: document });

  async function passwordStep(email: string) {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: PASSWORD });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  async function refresh(refreshToken: string) {
    const res = await fetch(`${h.running.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    h = await startAdminHarness();
    web = await registerClient(h.app, h.running.issuer);
    const org = await h.api('POST', '/organizations', { name: 'Broken Policy Inc' });
    expect(org.status).toBe(201);
    orgId = org.body.id;
    const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'broken.example' });
    expect(claim.status).toBe(201);
    h.dns.txt.set('_gatehouse-challenge.broken.example', [[claim.body.verification.value]]);
    expect((await h.api('POST', `/organizations/${orgId}/domains/broken.example/verify`)).status).toBe(200);
    expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { password: { minLength: 10 } } })).status).toBe(200);
    for (const email of [GOVERNED, BASELINE_USER]) expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    const stored = await h.app.services.db('security_policies').where({ subject: orgId }).first();
    expect(Number(stored.schema_version)).toBe(POLICY_DOCUMENT_VERSION);
    // Watch what the application logs at error level.
    const error = h.app.logger.error.bind(h.app.logger);
    h.app.logger.error = ((...args: unknown[]) => {
      logged.push(JSON.stringify(args));
      return (error as (...a: unknown[]) => void)(...args);
    }) as typeof h.app.logger.error;
  });
  afterAll(() => h?.stop());

  it('at run time: the governed sign-in and refresh get 503 (not the defaults), an error is logged, a baseline user is unaffected', async () => {
    const before = await signIn(new Browser(), web, GOVERNED, PASSWORD);
    expect(before.tokens.refresh_token).toBeTruthy();
    await breakPolicy(JSON.stringify({ password: { minLength: 2 } }));

    const refused = await passwordStep(GOVERNED);
    expect(refused.status).toBe(503);
    expect(refused.location).toBeNull();
    expect(refused.html).toContain('temporarily_unavailable');
    const refreshed = await refresh(before.tokens.refresh_token!);
    expect(refreshed).toEqual({ status: 503, body: expect.objectContaining({ error: 'temporarily_unavailable' }) });
    expect(logged.some((line) => line.includes(orgId) && line.includes('password.minLength must be at least 6'))).toBe(true);

    const baseline = await signIn(new Browser(), web, BASELINE_USER, PASSWORD);
    expect(baseline.tokens.access_token).toBeTruthy();
  });

  it('the admin API says so; PATCH cannot merge into it; PUT replaces it and sign-ins work again', async () => {
    await breakPolicy('{"authentication":{"enforce2fa":"sometimes"}}');
    const read = await h.api('GET', `/organizations/${orgId}/security-policy`);
    expect(read.status).toBe(503);
    expect(read.body).toMatchObject({ type: 'urn:gatehouse:problem:policy-unreadable', subject: orgId, reason: expect.stringContaining('authentication.enforce2fa') });
    expect(read.body.detail).toContain(orgId);
    // A page of users holding a governed user says so too (its password expiry comes from that policy); one without does not.
    const listed = await h.api('GET', `/users?email=${encodeURIComponent(GOVERNED)}`);
    expect(listed.status).toBe(503);
    expect(listed.body).toMatchObject({ type: 'urn:gatehouse:problem:policy-unreadable', subject: orgId });
    expect((await h.api('GET', `/users?email=${encodeURIComponent(BASELINE_USER)}`)).body.items).toEqual([expect.objectContaining({ email: BASELINE_USER })]);
    expect((await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { password: { minLength: 12 } } })).status).toBe(503);
    const replaced = await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { password: { minLength: 10 } } });
    expect(replaced.status).toBe(200);
    const event = (await h.api('GET', `/organizations/${orgId}/events?type=security_policy.updated&limit=1`)).body.items[0];
    expect(event.data.before).toMatchObject({ unreadable: '{"authentication":{"enforce2fa":"sometimes"}}' });
    expect((await signIn(new Browser(), web, GOVERNED, PASSWORD)).tokens.access_token).toBeTruthy();
  });

  it('start-up refuses while a stored policy cannot be read, naming the organization; starts once it is replaced', async () => {
    await breakPolicy('{"login":{"ipWhitelist":{"enabled":true,"cidrs":[]}}}');
    const config = h.running.backend.config({ ISSUER: h.running.issuer });
    await expect(createApp(config)).rejects.toThrow(new RegExp(`organization "Broken Policy Inc" \\(id ${orgId}\\): login\\.ipWhitelist\\.cidrs`));

    expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: {} })).status).toBe(200);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const app = await createApp(h.running.backend.config({ ISSUER: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
    await app.close();
    server.close();
  });
});
