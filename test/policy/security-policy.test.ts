import { DEFAULT_POLICY, mergePolicy, validatePolicy } from '../../src/policy/security-policy.js';

describe('security policy document', () => {
  it('has the contract defaults', () => {
    expect(DEFAULT_POLICY).toEqual({
      password: {
        minLength: 8,
        maxLength: 24,
        requireUppercase: true,
        requireLowercase: true,
        requireNumber: true,
        requireSpecial: false,
        expirationDays: null,
        historyCount: null,
        minAgeHours: 24,
      },
      session: {
        webTimeoutHours: 24,
        mobileExpiryHours: null,
        desktopExpiryHours: null,
        webIdleTimeoutMinutes: null,
        expireCookieOnBrowserClose: false,
        preventConcurrentWebSessions: true,
      },
      authentication: { enforce2fa: false },
      login: { lockoutThreshold: 5, ipWhitelist: { enabled: false, cidrs: [] } },
    });
  });

  it('fills defaults for omitted fields', () => {
    const r = validatePolicy({ password: { minLength: 10 } });
    expect(r.ok && r.policy.password).toEqual({ ...DEFAULT_POLICY.password, minLength: 10 });
  });

  it('names unknown fields, nested ones included', () => {
    const r = validatePolicy({ password: { minLenght: 10 }, sesion: {} });
    expect(!r.ok && r.errors.map((e) => e.field).sort()).toEqual(['password.minLenght', 'sesion']);
  });

  it.each([null, 'x', 5, []])('refuses a non-object patch %j', (patch) => {
    expect(mergePolicy(DEFAULT_POLICY, patch)).toEqual({ ok: false, errors: [{ field: '(policy)', message: 'must be a JSON object' }] });
  });

  it('merges patches deeply, replaces arrays, and validates the result whole', () => {
    const base = validatePolicy({ login: { ipWhitelist: { enabled: true, cidrs: ['10.0.0.0/8', '192.0.2.1'] } } });
    if (!base.ok) throw new Error('base invalid');
    const r = mergePolicy(base.policy, { login: { ipWhitelist: { cidrs: ['198.51.100.0/24'] } } });
    expect(r.ok && r.policy.login.ipWhitelist).toEqual({ enabled: true, cidrs: ['198.51.100.0/24'] });
    const emptied = mergePolicy(base.policy, { login: { ipWhitelist: { cidrs: [] } } });
    expect(!emptied.ok && emptied.errors[0]!.field).toBe('login.ipWhitelist.cidrs');
    const cross = mergePolicy(DEFAULT_POLICY, { password: { minLength: 30 } });
    expect(!cross.ok && cross.errors[0]!.field).toBe('password.maxLength');
  });
});
