import { checkPassword, describeRules, nextChangeAllowedAt, passwordExpiresAt, type PasswordRules } from '../../src/policy/password-rules.js';
import { translator } from '../../src/i18n/index.js';

/** Rules and violations are Messages (src/i18n): what a page shows in English. */
const english = (text: Parameters<ReturnType<typeof translator>['text']>[0]) => translator('en').text(text);
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';

const permissive: PasswordRules = {
  ...DEFAULT_POLICY.password,
  minLength: 6,
  maxLength: 64,
  requireUppercase: false,
  requireLowercase: false,
  requireNumber: false,
  requireSpecial: false,
};
const owner = { email: 'zoe.smith@example.com', name: 'Zoë Smithson' };
const codes = (rules: PasswordRules, pw: string) => checkPassword(rules, pw, owner).map((v) => v.code);

describe('password rules', () => {
  // rule, setting that switches it on, a password only that rule refuses, its code
  it.each([
    ['minLength', { minLength: 12 }, 'abcdefghij', 'password.too_short'],
    ['maxLength', { maxLength: 10 }, 'abcdefghijk', 'password.too_long'],
    ['requireUppercase', { requireUppercase: true }, 'abcdef-12', 'password.missing_uppercase'],
    ['requireLowercase', { requireLowercase: true }, 'ABCDEF-12', 'password.missing_lowercase'],
    ['requireNumber', { requireNumber: true }, 'Abcdef-xy', 'password.missing_number'],
    ['requireSpecial', { requireSpecial: true }, 'Abcdef123', 'password.missing_special'],
  ] as const)('%s: refused when on, accepted when off', (_rule, on, candidate, code) => {
    expect(codes({ ...permissive, ...on }, candidate)).toEqual([code]);
    expect(codes(permissive, candidate)).toEqual([]);
  });

  it('reports every violated rule at once', () => {
    expect(codes(DEFAULT_POLICY.password, 'abc')).toEqual(['password.too_short', 'password.missing_uppercase', 'password.missing_number']);
    const v = checkPassword({ ...DEFAULT_POLICY.password, requireSpecial: true }, 'x', owner);
    expect(v.map((x) => x.code)).toEqual([
      'password.too_short',
      'password.missing_uppercase',
      'password.missing_number',
      'password.missing_special',
    ]);
    expect(v[0]).toEqual({ code: 'password.too_short', message: { text: 'Use at least {{min}} characters.', values: { min: 8 } }, params: { min: 8 } });
    expect(english(v[0]!.message)).toBe('Use at least 8 characters.');
  });

  it('counts code points after NFC, not UTF-16 units or bytes', () => {
    const rules = { ...permissive, minLength: 6, maxLength: 6 };
    expect(codes(rules, '😀😀😀😀😀😀')).toEqual([]); // 6 code points, 12 UTF-16 units
    expect(codes(rules, 'e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301')).toEqual([]); // 12 before NFC, 6 after
    expect(codes(rules, '😀😀😀😀😀')).toEqual(['password.too_short']);
  });

  it('treats any non-letter, non-digit as special, and letters of any script as letters', () => {
    const rules = { ...permissive, requireSpecial: true };
    for (const pw of ['abc def', 'abc_def', 'abc€def', 'abc😀def']) expect(codes(rules, pw)).toEqual([]);
    for (const pw of ['abcdéf', 'abc日本語', 'abc١٢٣']) expect(codes(rules, pw)).toEqual(['password.missing_special']);
  });

  it('refuses the email address, its local part or the name', () => {
    for (const pw of ['zoe.smith@example.com', 'my-zoe.smith-1', 'SMITHSON-99']) expect(codes(permissive, pw)).toContain('password.contains_personal_info');
    expect(codes(permissive, 'zoe-123456')).toEqual([]); // too short a part to matter
  });

  it('describes the rules in force', () => {
    expect(describeRules(DEFAULT_POLICY.password).map(english)).toEqual([
      '8 to 24 characters',
      'an uppercase letter (A–Z)',
      'a lowercase letter (a–z)',
      'a number (0–9)',
      'not your email address or name',
    ]);
  });

  it('computes expiry and minimum age', () => {
    expect(passwordExpiresAt(DEFAULT_POLICY.password, 1000)).toBeNull();
    expect(passwordExpiresAt({ ...DEFAULT_POLICY.password, expirationDays: 90 }, 1000)).toBe(1000 + 90 * 86400);
    expect(nextChangeAllowedAt({ ...DEFAULT_POLICY.password, minAgeHours: 24 }, 1000, 1000 + 3600)).toBe(1000 + 24 * 3600);
    expect(nextChangeAllowedAt({ ...DEFAULT_POLICY.password, minAgeHours: 24 }, 1000, 1000 + 24 * 3600)).toBeNull();
    expect(nextChangeAllowedAt({ ...DEFAULT_POLICY.password, minAgeHours: 0 }, 1000, 1000)).toBeNull();
  });
});
