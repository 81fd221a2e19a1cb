/**
 * Every field of the policy document at both ends of its range, one past each end, and of the wrong
 * type, with the message the admin API shows; the cross-field rules at their boundaries. Pure: the same
 * table as test/admin/policy-contract.test.ts, without HTTP, so mutation testing of src/policy sees it.
 */
import { DEFAULT_POLICY, mergePolicy, toFieldErrors, validatePolicy, securityPolicySchema } from '../../src/policy/security-policy.js';

type Doc = Record<string, Record<string, unknown>>;
const set = (path: string, value: unknown, extra: Doc = {}): Doc => {
  const [section, field] = path.split('.') as [string, string];
  return { ...extra, [section]: { ...(extra[section] ?? {}), [field]: value } };
};
const errorsOf = (doc: unknown) => {
  const r = validatePolicy(doc);
  return r.ok ? [] : r.errors;
};

// field, min, max, nullable, a document that keeps the cross-field rules quiet at both ends
const ranges: Array<[string, number, number, boolean, Doc]> = [
  ['password.minLength', 6, 64, false, { password: { maxLength: 64 } }],
  ['password.maxLength', 10, 64, false, { password: { minLength: 6 } }],
  ['password.historyCount', 5, 10, true, {}],
  ['password.minAgeHours', 0, 8760, false, {}],
  ['session.webTimeoutHours', 1, 8760, false, {}],
  ['session.mobileExpiryHours', 1, 87600, true, {}],
  ['session.desktopExpiryHours', 1, 87600, true, {}],
  ['session.webIdleTimeoutMinutes', 1, 8760 * 60, true, { session: { webTimeoutHours: 8760 } }],
];

describe.each(ranges)('%s', (field, min, max, nullable, quiet) => {
  it(`accepts ${min} and ${max}`, () => {
    expect(errorsOf(set(field, min, quiet))).toEqual([]);
    expect(errorsOf(set(field, max, quiet))).toEqual([]);
  });
  it('refuses one past each end, naming the field and the bound', () => {
    expect(errorsOf(set(field, min - 1, quiet))).toEqual([{ field, message: `must be at least ${min}` }]);
    expect(errorsOf(set(field, max + 1, quiet))).toEqual([{ field, message: `must be at most ${max}` }]);
  });
  it('refuses fractions and other types', () => {
    expect(errorsOf(set(field, min + 0.5, quiet))).toEqual([{ field, message: 'must be a whole number' }]);
    expect(errorsOf(set(field, String(min), quiet))).toEqual([{ field, message: 'must be a number' }]);
  });
  it(nullable ? 'accepts null (disabled)' : 'refuses null', () => {
    expect(errorsOf(set(field, null, quiet)).length === 0).toBe(nullable);
  });
});

describe('other fields', () => {
  it.each([
    'password.requireUppercase',
    'password.requireLowercase',
    'password.requireNumber',
    'password.requireSpecial',
    'session.expireCookieOnBrowserClose',
    'session.preventConcurrentWebSessions',
    'authentication.enforce2fa',
  ])('%s is true or false', (field) => {
    expect(errorsOf(set(field, true))).toEqual([]);
    expect(errorsOf(set(field, false))).toEqual([]);
    expect(errorsOf(set(field, 'yes'))).toEqual([{ field, message: 'must be true or false' }]);
  });

  it('expirationDays is null, 90, 180, 270 or 365', () => {
    for (const d of [null, 90, 180, 270, 365]) expect(errorsOf(set('password.expirationDays', d))).toEqual([]);
    for (const d of [30, 91, 364, '90']) expect(errorsOf(set('password.expirationDays', d)).map((e) => e.field)).toEqual(['password.expirationDays']);
  });

  it('lockoutThreshold is fixed at 5', () => {
    expect(errorsOf(set('login.lockoutThreshold', 5))).toEqual([]);
    expect(errorsOf(set('login.lockoutThreshold', 6))).toEqual([{ field: 'login.lockoutThreshold', message: 'is fixed at 5' }]);
  });

  it('the whitelist holds up to 500 addresses or blocks, each named when wrong', () => {
    const cidrs = (list: unknown) => ({ login: { ipWhitelist: { enabled: true, cidrs: list } } });
    expect(errorsOf(cidrs(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']))).toEqual([]);
    expect(errorsOf(cidrs(['10.0.0.0/8', 'nope']))).toEqual([
      { field: 'login.ipWhitelist.cidrs.1', message: 'must be an IPv4 address in dotted-quad form (four decimal numbers 0-255, no leading zeros) or an IPv6 address' },
    ]);
    expect(errorsOf(cidrs(Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)))).toEqual([]);
    expect(errorsOf(cidrs(Array.from({ length: 501 }, (_, i) => `10.0.${i >> 8}.${i & 255}`))).map((e) => e.field)).toEqual(['login.ipWhitelist.cidrs']);
    expect(errorsOf({ login: { ipWhitelist: { enabled: 'on' } } })).toEqual([{ field: 'login.ipWhitelist.enabled', message: 'must be true or false' }]);
    expect(errorsOf({ login: { ipWhitelist: { enabled: false, cidrs: [] } } })).toEqual([]); // off and empty is fine
  });

  it('the whole document must be an object', () => {
    expect(errorsOf(null)).toEqual([{ field: '(policy)', message: expect.any(String) }]);
    expect(errorsOf({})).toEqual([]);
  });
});

describe('cross-field rules', () => {
  it('maxLength may equal minLength, never be below it', () => {
    expect(errorsOf({ password: { minLength: 20, maxLength: 20 } })).toEqual([]);
    expect(errorsOf({ password: { minLength: 21, maxLength: 20 } })).toEqual([
      { field: 'password.maxLength', message: 'must be greater than or equal to password.minLength' },
    ]);
  });

  it('the idle timeout may equal the web timeout, never exceed it', () => {
    expect(errorsOf({ session: { webTimeoutHours: 2, webIdleTimeoutMinutes: 120 } })).toEqual([]);
    expect(errorsOf({ session: { webTimeoutHours: 2, webIdleTimeoutMinutes: 121 } })).toEqual([
      { field: 'session.webIdleTimeoutMinutes', message: 'must be at most session.webTimeoutHours × 60' },
    ]);
  });

  it('an enabled whitelist must list something', () => {
    expect(errorsOf({ login: { ipWhitelist: { enabled: true, cidrs: [] } } })).toEqual([
      { field: 'login.ipWhitelist.cidrs', message: 'must list at least one address when the whitelist is enabled' },
    ]);
  });

  it.each([
    ['minLength out of range', { password: { minLength: 65, maxLength: 10 } }, ['password.minLength']],
    ['minLength a fraction', { password: { minLength: 12.5, maxLength: 10 } }, ['password.minLength']],
    ['maxLength out of range', { password: { minLength: 12, maxLength: 9 } }, ['password.maxLength']],
    ['maxLength too high', { password: { minLength: 12, maxLength: 65 } }, ['password.maxLength']],
    ['minLength too low', { password: { minLength: 5, maxLength: 10 } }, ['password.minLength']],
    ['webTimeoutHours out of range', { session: { webTimeoutHours: 0, webIdleTimeoutMinutes: 120 } }, ['session.webTimeoutHours']],
    ['webTimeoutHours too high', { session: { webTimeoutHours: 8761, webIdleTimeoutMinutes: 8760 * 60 } }, ['session.webTimeoutHours']],
    ['webTimeoutHours a fraction', { session: { webTimeoutHours: 1.5, webIdleTimeoutMinutes: 120 } }, ['session.webTimeoutHours']],
    ['webIdleTimeoutMinutes out of range', { session: { webTimeoutHours: 1, webIdleTimeoutMinutes: 8760 * 60 + 1 } }, ['session.webIdleTimeoutMinutes']],
    ['webIdleTimeoutMinutes zero', { session: { webTimeoutHours: 1, webIdleTimeoutMinutes: 0 } }, ['session.webIdleTimeoutMinutes']],
  ])('a field invalid on its own is reported once, without the cross-field rule (%s)', (_label, doc, fields) => {
    const errors = errorsOf(doc);
    expect(errors.map((e) => e.field)).toEqual(fields);
    expect(errors[0]!.message).not.toMatch(/password\.minLength|webTimeoutHours × 60/);
  });
});

describe('field errors', () => {
  it('joins paths with dots and names each unknown key', () => {
    const parsed = securityPolicySchema.safeParse({ password: { a: 1, b: 2 }, login: { ipWhitelist: { cidrs: ['x'] } } });
    expect(parsed.success).toBe(false);
    expect(toFieldErrors(parsed.error!)).toEqual([
      { field: 'password.a', message: 'is not a policy field' },
      { field: 'password.b', message: 'is not a policy field' },
      { field: 'login.ipWhitelist.cidrs.0', message: 'must be an IPv4 address in dotted-quad form (four decimal numbers 0-255, no leading zeros) or an IPv6 address' },
    ]);
  });

  it('merge: null disables, nested fields merge, unknown fields are refused, the current policy is not changed', () => {
    const current = { ...DEFAULT_POLICY, password: { ...DEFAULT_POLICY.password, historyCount: 5 } };
    const frozen = JSON.stringify(current);
    const r = mergePolicy(current, { password: { historyCount: null, minLength: 10 } });
    expect(r.ok && r.policy.password).toEqual({ ...DEFAULT_POLICY.password, historyCount: null, minLength: 10 });
    expect(JSON.stringify(current)).toBe(frozen);
    expect(mergePolicy(current, { password: { colour: 'red' } })).toEqual({ ok: false, errors: [{ field: 'password.colour', message: 'is not a policy field' }] });
    const whole = mergePolicy(current, { session: null });
    expect(whole.ok).toBe(false);
  });
});
