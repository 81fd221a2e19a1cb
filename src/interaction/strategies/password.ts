import { m, type Text } from '../../i18n/message.js';
import { nowSeconds } from '../../stores/db.js';
import { normalizeEmail } from '../../services/accounts.js';
import type { Services } from '../../services/index.js';
import { whitelistAllows } from '../../policy/ip.js';
import type { StepContext } from '../steps/step.js';
import { refused, type Strategy, type Verdict } from './strategy.js';

/** Generic on purpose: an unknown email, a wrong password and a disabled account read the same. */
export const SIGN_IN_FAILED = m('Incorrect email or password.');
export const LOCKED = m('Too many failed sign-ins. Try again later, or reset your password.');
export const NETWORK_NOT_ALLOWED = m('Your organization does not allow signing in from this network.');

/**
 * The locked answer, saying how long the lock still lasts (in whole minutes, rounded up) when its end
 * is known. An account and an address without one lock by the same rule, so they read alike.
 */
export function lockedFor(lockedUntil: number | null | undefined): Text {
  const left = (lockedUntil ?? 0) - nowSeconds();
  if (left <= 0) return LOCKED;
  return m('Too many failed sign-ins. Try again in {{count}} minutes, or reset your password.', { count: Math.ceil(left / 60) });
}

/** Email and password: the first factor, behind the IP whitelist of the policy that governs the address. */
export class PasswordStrategy implements Strategy<{ email: string; password: string }> {
  readonly method = 'password' as const;

  constructor(private readonly services: Services) {}

  async verify(s: StepContext, { email, password }: { email: string; password: string }): Promise<Verdict> {
    // The whitelist is checked before the password, and a refusal here does not count toward lockout.
    const normalized = normalizeEmail(email);
    const governing = normalized ? await this.services.policies.effectiveFor({ email: normalized }) : undefined;
    if (governing && !whitelistAllows(governing.policy.login.ipWhitelist, s.request.ip)) return refused(403, NETWORK_NOT_ALLOWED, 'ip-not-allowed', { email });
    const result = await this.services.accounts.authenticate(email, password, governing);
    if (result.ok) {
      const { effective, factors } = result;
      return { ok: true, accountId: result.account.id, loaded: { effective, factors }, event: { type: 'first-factor', passed: { method: 'password', amr: ['pwd'], multiFactor: false } } };
    }
    // The account (when the address has one) goes to the audit trail, so it shows in the user's own activity.
    const who = { email, accountId: result.accountId };
    return result.reason === 'locked' ? refused(429, lockedFor(result.lockedUntil), 'locked', who) : refused(401, SIGN_IN_FAILED, 'invalid', who);
  }
}
