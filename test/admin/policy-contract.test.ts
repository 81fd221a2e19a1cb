/**
 * Every row of the contract table (../shared/spec/security-policy.md) through the admin API: the
 * default, both ends of each range, one past each end (400 naming the field, nothing stored), and the
 * cross-field rules.
 */
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { createOrganization } from '../helpers/setup.js';

let h: AdminHarness;
let orgId: string;
beforeAll(async () => {
  h = await startAdminHarness();
  orgId = await createOrganization(h, 'Contract');
});
afterAll(() => h.stop());

const policyPath = () => `/organizations/${orgId}/security-policy`;

/** Sets one dotted field through PATCH. */
const patchOf = (field: string, value: unknown) =>
  field.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
const read = (policy: Record<string, any>, field: string) => field.split('.').reduce((o, k) => o[k], policy); // eslint-disable-line @typescript-eslint/no-explicit-any

type Row = [field: string, defaultValue: unknown, accepted: unknown[], rejected: unknown[]];

const rows: Row[] = [
  ['password.minLength', 8, [6, 24], [5, 65, 7.5, '8', null]],
  ['password.maxLength', 24, [10, 64], [9, 65, null]],
  ['password.requireUppercase', true, [true, false], ['yes', 1, null]],
  ['password.requireLowercase', true, [true, false], ['no', 0, null]],
  ['password.requireNumber', true, [true, false], ['true', null]],
  ['password.requireSpecial', false, [true, false], ['false', null]],
  ['password.expirationDays', null, [null, 90, 180, 270, 365], [89, 91, 30, 366, 0, '90']],
  ['password.historyCount', null, [null, 5, 10], [4, 11, 0, 7.5]],
  ['password.minAgeHours', 24, [0, 8760], [-1, 8761, null]],
  ['session.webTimeoutHours', 24, [1, 8760], [0, 8761, null]],
  ['session.mobileExpiryHours', null, [null, 1, 87600], [0, 87601]],
  ['session.desktopExpiryHours', null, [null, 1, 87600], [0, 87601]],
  ['session.webIdleTimeoutMinutes', null, [null, 1, 1440], [0, 1441]], // upper end: webTimeoutHours (24) × 60
  ['session.expireCookieOnBrowserClose', false, [true, false], ['on', null]],
  ['session.preventConcurrentWebSessions', true, [true, false], [1, null]],
  ['authentication.enforce2fa', false, [true, false], ['true', null]],
  ['login.lockoutThreshold', 5, [5], [4, 6, 0, null]],
  ['login.ipWhitelist.enabled', false, [false], ['yes', null]],
  ['login.ipWhitelist.cidrs', [], [[], ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7', '::1']], [['10.0.0.0/33'], ['not-an-ip'], '10.0.0.0/8', [1]]],
];

describe('security policy contract', () => {
  it('GET returns every field with the contract defaults', async () => {
    const res = await h.api('GET', policyPath());
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false, policy: DEFAULT_POLICY });
    for (const [field, defaultValue] of rows) expect(read(res.body.policy, field)).toEqual(defaultValue);
  });

  describe.each(rows)('%s', (field, defaultValue, accepted, rejected) => {
    it.each(accepted.map((v) => [JSON.stringify(v), v]))('accepts %s', async (_label, value) => {
      const res = await h.api('PATCH', policyPath(), { policy: patchOf(field, value) });
      expect(res.status).toBe(200);
      expect(read(res.body.policy, field)).toEqual(value);
      expect(read((await h.api('GET', policyPath())).body.policy, field)).toEqual(value);
      await h.api('PATCH', policyPath(), { policy: patchOf(field, defaultValue) });
    });

    it.each(rejected.map((v) => [JSON.stringify(v), v]))('rejects %s with 400 naming the field, storing nothing', async (_label, value) => {
      const before = (await h.api('GET', policyPath())).body.policy;
      const res = await h.api('PATCH', policyPath(), { policy: patchOf(field, value) });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      // The field itself, or for list fields the offending element (login.ipWhitelist.cidrs.0).
      const fields: string[] = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields.some((f) => f === field || f.startsWith(`${field}.`))).toBe(true);
      expect((await h.api('GET', policyPath())).body.policy).toEqual(before);
    });
  });

  it('rejects maxLength < minLength, naming password.maxLength', async () => {
    const res = await h.api('PUT', policyPath(), { policy: { password: { minLength: 20, maxLength: 12 } } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'password.maxLength', message: expect.stringContaining('minLength') }]);
    const ok = await h.api('PUT', policyPath(), { policy: { password: { minLength: 12, maxLength: 12 } } });
    expect(ok.status).toBe(200);
  });

  it('bounds the idle timeout by the web timeout', async () => {
    expect((await h.api('PUT', policyPath(), { policy: { session: { webTimeoutHours: 2, webIdleTimeoutMinutes: 120 } } })).status).toBe(200);
    const res = await h.api('PUT', policyPath(), { policy: { session: { webTimeoutHours: 2, webIdleTimeoutMinutes: 121 } } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['session.webIdleTimeoutMinutes']);
  });

  it('rejects an enabled whitelist with no addresses', async () => {
    const res = await h.api('PUT', policyPath(), { policy: { login: { ipWhitelist: { enabled: true, cidrs: [] } } } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'login.ipWhitelist.cidrs', message: expect.any(String) }]);
    const ok = await h.api('PUT', policyPath(), { policy: { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } } });
    expect(ok.status).toBe(200);
  });

  it('reports every bad field of one request at once and stores none of the good ones', async () => {
    await h.api('PUT', policyPath(), { policy: {} });
    const res = await h.api('PATCH', policyPath(), {
      policy: { password: { minLength: 3, requireSpecial: true }, session: { webTimeoutHours: 0 }, login: { lockoutThreshold: 3 }, extra: 1 },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(
      ['extra', 'login.lockoutThreshold', 'password.minLength', 'session.webTimeoutHours'].sort(),
    );
    expect((await h.api('GET', policyPath())).body.policy).toEqual(DEFAULT_POLICY);
  });

  it('PUT replaces (omitted fields return to defaults); PATCH merges', async () => {
    await h.api('PUT', policyPath(), { policy: { password: { minLength: 10, requireSpecial: true } } });
    await h.api('PATCH', policyPath(), { policy: { password: { historyCount: 5 } } });
    let policy = (await h.api('GET', policyPath())).body.policy;
    expect(policy.password).toMatchObject({ minLength: 10, requireSpecial: true, historyCount: 5 });
    await h.api('PUT', policyPath(), { policy: { session: { webTimeoutHours: 8 } } });
    policy = (await h.api('GET', policyPath())).body.policy;
    expect(policy.password).toEqual(DEFAULT_POLICY.password);
    expect(policy.session.webTimeoutHours).toBe(8);
  });

  it('refuses a body that is not JSON, or not the expected shape', async () => {
    const notJson = await h.api('PUT', policyPath(), '{"policy": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.type).toBe('urn:gatehouse:problem:invalid-json');
    const noPolicy = await h.api('PUT', policyPath(), { password: { minLength: 10 } });
    expect(noPolicy.status).toBe(400);
    expect(noPolicy.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['password', 'policy']);
  });

  it('the baseline has the same contract, with whitelist and 2FA off by default', async () => {
    const res = await h.api('GET', '/baseline-policy');
    expect(res.body.policy).toEqual(DEFAULT_POLICY);
    expect(res.body.policy.login.ipWhitelist.enabled).toBe(false);
    expect(res.body.policy.authentication.enforce2fa).toBe(false);
    const bad = await h.api('PUT', '/baseline-policy', { policy: { password: { minLength: 65 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('password.minLength');
    const ok = await h.api('PUT', '/baseline-policy', { policy: { password: { minLength: 9 } } });
    expect(ok.body.policy.password.minLength).toBe(9);
    await h.api('PUT', '/baseline-policy', { policy: {} });
  });
});
