import { secondFactorRequired } from '../../src/policy/second-factor.js';
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';

const enforcing = { ...DEFAULT_POLICY, authentication: { enforce2fa: true } };
const none = { totp: false, passkeys: 0 };

describe('secondFactorRequired', () => {
  it.each([
    ['not enrolled, not enforced', none, DEFAULT_POLICY, false],
    ['not enrolled, enforced: enrolls', none, enforcing, true],
    ['TOTP, not enforced: still asked', { totp: true, passkeys: 0 }, DEFAULT_POLICY, true],
    ['TOTP, enforced', { totp: true, passkeys: 0 }, enforcing, true],
    ['a passkey, not enforced: still asked', { totp: false, passkeys: 1 }, DEFAULT_POLICY, true],
    ['several passkeys, enforced', { totp: false, passkeys: 3 }, enforcing, true],
    ['TOTP and a passkey, not enforced', { totp: true, passkeys: 1 }, DEFAULT_POLICY, true],
  ] as const)('%s', (_label, enrolled, policy, expected) => {
    expect(secondFactorRequired(enrolled, policy)).toBe(expected);
  });
});
