import type { Services } from '../../services/index.js';
import { m } from '../../i18n/message.js';
import type { StepContext } from '../steps/step.js';
import { lockedFor } from './password.js';
import { refused, type Strategy, type Verdict } from './strategy.js';

export const TOTP_INVALID = m('That code is not valid. Check your app and try again.');
export const RECOVERY_INVALID = m('That recovery code is not valid or was already used.');

/** The shape of a TOTP code (six digits, spaces ignored). */
export const looksLikeTotp = (code: string) => /^\d{6}$/.test(code.replace(/\s/g, ''));

/**
 * A second factor from a one-time code: the authenticator app's TOTP (`method` 'totp') or one of the
 * recovery codes ('recovery-code'). Each counts toward the account's lockout before it is checked
 * (TwoFactorService.verify); both are `otp` in RFC 8176 terms.
 */
export class OneTimeCodeStrategy implements Strategy<string> {
  constructor(
    private readonly services: Services,
    readonly method: 'totp' | 'recovery-code',
  ) {}

  async verify(s: StepContext, code: string): Promise<Verdict> {
    const { account } = s.known!;
    const invalid = this.method === 'totp' ? TOTP_INVALID : RECOVERY_INVALID;
    const shapeFits = this.method === 'totp' ? looksLikeTotp(code) : !looksLikeTotp(code);
    // A code of the other kind can never pass this method: refused as it is.
    const result = shapeFits ? await this.services.twoFactor.verify(account, code, s.request) : 'invalid';
    if (result === 'ok') return { ok: true, event: { type: 'second-factor', passed: { method: this.method, amr: ['otp'] } } };
    const email = account.email;
    if (result === 'locked') return refused(429, lockedFor(await this.services.accounts.lockedUntil(account.id)), 'locked', { email, accountId: account.id });
    return refused(401, invalid, 'invalid-second-factor', { email, accountId: account.id });
  }
}
