/**
 * Tests written for the mutants that survived `npm run mutation:policy` (see /work/notes/h-tests.md):
 * each names the behaviour the surviving mutant changed.
 */
import { normalizeDomain } from '../../src/policy/domains.js';
import { clientAddress, ipInList } from '../../src/policy/ip.js';
import { checkPassword, describeRules, nextChangeAllowedAt, type PasswordRules } from '../../src/policy/password-rules.js';
import { translator } from '../../src/i18n/index.js';

/** Rules are Messages (src/i18n): what a page shows in English. */
const english = (text: Parameters<ReturnType<typeof translator>['text']>[0]) => translator('en').text(text);
import { DEFAULT_POLICY, validatePolicy } from '../../src/policy/security-policy.js';

const permissive: PasswordRules = {
  ...DEFAULT_POLICY.password,
  minLength: 6,
  maxLength: 64,
  requireUppercase: false,
  requireLowercase: false,
  requireNumber: false,
  requireSpecial: false,
};

describe('domains: only all-numeric names are refused as addresses', () => {
  it.each([
    ['10.0.0.10', null],
    ['123.45', null],
    ['123.example', '123.example'], // starts with digits
    ['a1.b22', 'a1.b22'], // ends with digits
  ])('%j → %j', (input, expected) => expect(normalizeDomain(input)).toBe(expected));
});

describe('ip', () => {
  it('reads bracketed IPv6 addresses', () => expect(ipInList('[2001:db8::1]', ['2001:db8::/32'])).toBe(true));
  it('a single IPv6 address is a /128, a single IPv4 address a /32', () => {
    expect(ipInList('2001:db8::1', ['2001:db8::1'])).toBe(true);
    expect(ipInList('2001:db8::2', ['2001:db8::1'])).toBe(false);
    expect(ipInList('192.0.2.7', ['192.0.2.7'])).toBe(true);
  });
  it('skips entries it cannot read and goes on', () => expect(ipInList('10.0.0.1', ['garbage', '10.0.0.0/8'])).toBe(true));
  it('keeps an unreadable or missing socket address as it is', () => {
    expect(clientAddress('garbage', undefined, [])).toBe('garbage');
    expect(clientAddress(undefined, undefined, [])).toBe('unknown');
  });
  it('a trusted proxy without X-Forwarded-For is the client', () => expect(clientAddress('10.0.0.5', undefined, ['10.0.0.0/8'])).toBe('10.0.0.5'));
  it('ignores empty hops', () => expect(clientAddress('10.0.0.5', '198.51.100.7, ', ['10.0.0.0/8'])).toBe('198.51.100.7'));
});

describe('password rules: messages, parameters and personal terms', () => {
  it('describes each rule only when it is on', () => {
    expect(describeRules(permissive).map(english)).toEqual(['6 to 64 characters', 'not your email address or name']);
    expect(describeRules({ ...permissive, requireSpecial: true }).map(english)).toEqual(['6 to 64 characters', 'a symbol such as ! @ # or -', 'not your email address or name']);
  });

  it('says what each broken rule needs', () => {
    const owner = { email: 'x@example.com' };
    expect(checkPassword({ ...permissive, maxLength: 10 }, 'abcdefghijk', owner)).toEqual([
      { code: 'password.too_long', message: { text: 'Use at most {{max}} characters.', values: { max: 10 } }, params: { max: 10 } },
    ]);
    const all = { ...permissive, requireUppercase: true, requireLowercase: true, requireNumber: true, requireSpecial: true };
    expect(checkPassword(all, '      ', owner)).toEqual([
      { code: 'password.missing_uppercase', message: 'Include an uppercase letter (A–Z).' },
      { code: 'password.missing_lowercase', message: 'Include a lowercase letter (a–z).' },
      { code: 'password.missing_number', message: 'Include a number (0–9).' },
    ]);
    expect(checkPassword(all, 'Abc123', owner)).toEqual([
      { code: 'password.missing_special', message: 'Include a symbol (any character that is not a letter or digit).' },
    ]);
    expect(checkPassword(permissive, 'my-x@example.com', owner)).toEqual([
      { code: 'password.contains_personal_info', message: 'Do not use your email address or name in your password.' },
    ]);
  });

  it('parts of the name or address shorter than 4 characters do not count; 4 do', () => {
    const owner = { email: 'al@example.com', name: 'Al Li Anna' };
    expect(checkPassword(permissive, 'Pal-Lig-1234', owner)).toEqual([]);
    expect(checkPassword(permissive, 'xANNAx-1234', owner).map((v) => v.code)).toEqual(['password.contains_personal_info']);
  });

  it('with no minimum age, a password set "in the future" (a clock ahead) does not block a change', () => {
    expect(nextChangeAllowedAt({ ...permissive, minAgeHours: 0 }, 1000, 999)).toBeNull();
  });
});

describe('cross-field rules at the ends of the ranges', () => {
  it.each([
    [{ password: { minLength: 12, maxLength: 10 } }, 'password.maxLength'], // maxLength at its minimum
    [{ password: { minLength: 64, maxLength: 63 } }, 'password.maxLength'], // minLength at its maximum
    [{ session: { webTimeoutHours: 3, webIdleTimeoutMinutes: 181 } }, 'session.webIdleTimeoutMinutes'],
    [{ session: { webTimeoutHours: 8759, webIdleTimeoutMinutes: 8760 * 60 } }, 'session.webIdleTimeoutMinutes'],
  ])('%j is refused at %s', (doc, field) => {
    const r = validatePolicy(doc);
    expect(!r.ok && r.errors.map((e) => e.field)).toEqual([field]);
  });
});
