import { secondFactorRequired } from '../../src/policy/second-factor.js';
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';

const enforcing = { ...DEFAULT_POLICY, authentication: { enforce2fa: true } };

describe('secondFactorRequired', () => {
  it.each([
    ['not enrolled, not enforced', null, DEFAULT_POLICY, false],
    ['not enrolled, enforced: enrolls', null, enforcing, true],
    ['enrolled, not enforced: still asked', 1_700_000_000, DEFAULT_POLICY, true],
    ['enrolled, enforced', 1_700_000_000, enforcing, true],
    ['enrolled at epoch 0 is still enrolled', 0, DEFAULT_POLICY, true],
  ] as const)('%s', (_label, totpEnabledAt, policy, expected) => {
    expect(secondFactorRequired({ totpEnabledAt }, policy)).toBe(expected);
  });
});
