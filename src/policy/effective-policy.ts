/**
 * Which policy governs a user (security-policy.md, "Who is governed by which policy"). Pure.
 */
import type { SecurityPolicy } from './security-policy.js';

export interface VerifiedClaim {
  organizationId: string;
  domain: string;
}

export interface EffectivePolicy {
  source: 'organization' | 'baseline';
  organizationId: string | null;
  domain: string | null;
  policy: SecurityPolicy;
}

/** The domain part of a normalized email address. */
export const emailDomain = (email: string): string => email.slice(email.lastIndexOf('@') + 1);

/**
 * The organization's policy when the user's email domain is a verified claim (and the organization
 * has a stored policy, else the contract's defaults); otherwise the baseline. `verifiedClaim` is the
 * verified claim of the user's domain, if any: pending and revoked claims never govern anyone.
 */
export function effectivePolicy(input: {
  email: string;
  verifiedClaim: VerifiedClaim | undefined;
  organizationPolicy: SecurityPolicy | undefined;
  baseline: SecurityPolicy;
  defaults: SecurityPolicy;
}): EffectivePolicy {
  const domain = emailDomain(input.email);
  const claim = input.verifiedClaim;
  if (claim && claim.domain === domain) {
    return { source: 'organization', organizationId: claim.organizationId, domain, policy: input.organizationPolicy ?? input.defaults };
  }
  return { source: 'baseline', organizationId: null, domain: null, policy: input.baseline };
}
