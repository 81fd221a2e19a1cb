/** Whether signing in needs a second factor. Pure. */
import { hasSecondFactor, type EnrolledFactors } from '../stores/factors.js';
import type { SecurityPolicy } from './security-policy.js';

/** The user has one of any kind (enforced or not), or the policy that governs them enforces it. */
export function secondFactorRequired(enrolled: EnrolledFactors, policy: SecurityPolicy): boolean {
  return hasSecondFactor(enrolled) || policy.authentication.enforce2fa;
}
