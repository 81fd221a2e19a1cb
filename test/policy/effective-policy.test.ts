import { effectivePolicy } from '../../src/policy/effective-policy.js';
import { DEFAULT_POLICY, type SecurityPolicy } from '../../src/policy/security-policy.js';

const orgPolicy: SecurityPolicy = { ...DEFAULT_POLICY, password: { ...DEFAULT_POLICY.password, minLength: 14 } };
const baseline: SecurityPolicy = { ...DEFAULT_POLICY, password: { ...DEFAULT_POLICY.password, minLength: 9 } };

describe('effective policy', () => {
  it.each([
    ['a verified claim of the user\'s domain: the organization\'s policy', 'a@acme.example', { organizationId: 'o1', domain: 'acme.example' }, orgPolicy, 'organization', 14],
    ['a verified organization with no stored policy: the contract defaults', 'a@acme.example', { organizationId: 'o1', domain: 'acme.example' }, undefined, 'organization', 8],
    ['no verified claim: the baseline', 'a@acme.example', undefined, orgPolicy, 'baseline', 9],
    ['a claim on another domain does not govern', 'a@sub.acme.example', { organizationId: 'o1', domain: 'acme.example' }, orgPolicy, 'baseline', 9],
  ] as const)('%s', (_label, email, claim, stored, source, minLength) => {
    const r = effectivePolicy({ email, verifiedClaim: claim, organizationPolicy: stored, baseline, defaults: DEFAULT_POLICY });
    expect(r.source).toBe(source);
    expect(r.policy.password.minLength).toBe(minLength);
    expect(r.organizationId).toBe(source === 'organization' ? 'o1' : null);
  });
});
