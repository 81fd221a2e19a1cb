import { Validator } from '@seriousme/openapi-schema-validator';
import { adminRoutes } from '../../src/admin/routes/index.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';

let h: AdminHarness;
let doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any
beforeAll(async () => {
  h = await startAdminHarness();
  const res = await fetch(`${h.running.issuer}/admin/v1/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(() => h.stop());

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('lists every route the server answers, and no other', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`));
    const served = adminRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(documented.sort()).toEqual(served.sort());
    // And every documented route is really routed: an unauthenticated call gets 401, not 404.
    return Promise.all(
      adminRoutes.map(async (r) => {
        const path = r.path.replace(/\{\w+\}/g, 'x');
        const res = await fetch(`${h.running.issuer}/admin/v1${path}`, { method: r.method.toUpperCase() });
        expect([r.method, r.path, res.status]).toEqual([r.method, r.path, 401]);
      }),
    );
  });

  it('documents the policy with every contract field, default and range', () => {
    const put = doc.paths['/organizations/{orgId}/security-policy'].put.requestBody.content['application/json'].schema;
    const password = put.properties.policy.properties.password.properties;
    expect(password.minLength).toMatchObject({ type: 'integer', minimum: 6, maximum: 64, default: 8 });
    expect(password.maxLength).toMatchObject({ minimum: 10, maximum: 64, default: 24 });
    expect(password.historyCount).toBeDefined();
    const session = put.properties.policy.properties.session.properties;
    expect(Object.keys(session).sort()).toEqual(
      ['desktopExpiryHours', 'expireCookieOnBrowserClose', 'mobileExpiryHours', 'preventConcurrentWebSessions', 'webIdleTimeoutMinutes', 'webTimeoutHours'].sort(),
    );
    expect(put.properties.policy.properties.login.properties.lockoutThreshold).toMatchObject({ const: 5 });
  });

  it('documents a user\'s second factors, and nothing secret about them', () => {
    const user = doc.paths['/users/{userId}'].get.responses['200'].content['application/json'].schema;
    expect(user.required).toEqual(expect.arrayContaining(['twoFactorEnabled', 'factors']));
    const factor = user.properties.factors.items;
    expect(Object.keys(factor.properties).sort()).toEqual(['createdAt', 'deviceType', 'id', 'kind', 'label', 'lastUsedAt']);
    expect(factor.required.sort()).toEqual(['createdAt', 'id', 'kind', 'label', 'lastUsedAt']);
    expect(factor.properties.kind.enum).toEqual(['totp', 'passkey']);
    expect(factor.properties.deviceType.enum).toEqual(['singleDevice', 'multiDevice']);
    expect(doc.paths['/users/{userId}/reset-2fa'].post.responses['200'].content['application/json'].schema.properties.factors).toBeDefined();
  });

  it('uses problem documents for errors', () => {
    const responses = doc.paths['/organizations'].post.responses;
    expect(Object.keys(responses['400'].content)).toEqual(['application/problem+json']);
  });
});
