/** Whether signing in needs a second factor. Pure. */
import type { SecurityPolicy } from './security-policy.js';

/** The user has one (enforced or not), or the policy that governs them enforces it. */
export function secondFactorRequired(account: { totpEnabledAt: number | null }, policy: SecurityPolicy): boolean {
  return account.totpEnabledAt !== null || policy.authentication.enforce2fa;
}
