import { createHash, randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { RecoveryCodeStore } from '../stores/sql/recovery-codes.js';
import { nowSeconds } from '../stores/db.js';
import type { AccountService } from './accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import type { PolicyService } from './policies.js';
import type { SecretBox } from './secret-box.js';

const PERIOD = 30;
const RECOVERY_CODES = 10;
const RECOVERY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O, 1/I

/** Recovery codes are compared case- and dash-insensitively. */
const normalizeRecovery = (code: string) => code.toUpperCase().replace(/[^A-Z0-9]/g, '');
const digest = (code: string) => createHash('sha256').update(normalizeRecovery(code)).digest('hex');

export interface Enrollment {
  /** Sealed seed, to carry in the sign-in flow until the user confirms a code. */
  sealed: string;
  /** For manual entry in an authenticator app. */
  secret: string;
  uri: string;
  qrDataUrl: string;
}

export type SecondFactorCheck = 'ok' | 'invalid' | 'locked';

/**
 * TOTP (RFC 6238, 30-second steps, one step of clock drift either way) with single-use recovery codes.
 * Seeds are stored sealed; an accepted code's time step is remembered, so a code works once. Failed
 * codes count toward the account's lockout like failed passwords.
 */
export class TwoFactorService {
  constructor(
    private readonly deps: {
      accounts: AccountStore;
      accountService: AccountService;
      recoveryCodes: RecoveryCodeStore;
      policies: PolicyService;
      box: SecretBox;
      audit: AuditService;
      issuerName: string;
    },
  ) {}

  async startEnrollment(account: AccountRecord): Promise<Enrollment> {
    const secret = generateSecret();
    const uri = generateURI({ issuer: this.deps.issuerName, label: account.email, secret });
    return { sealed: this.deps.box.seal(secret), secret, uri, qrDataUrl: await QRCode.toDataURL(uri, { margin: 1, width: 220 }) };
  }

  /** Re-derives what the enrollment page shows from the sealed seed carried by the flow. */
  async showEnrollment(account: AccountRecord, sealed: string): Promise<Enrollment> {
    const secret = this.deps.box.open(sealed);
    const uri = generateURI({ issuer: this.deps.issuerName, label: account.email, secret });
    return { sealed, secret, uri, qrDataUrl: await QRCode.toDataURL(uri, { margin: 1, width: 220 }) };
  }

  private async checkTotp(secret: string, code: string, afterTimeStep?: number | null) {
    if (!/^\d{6}$/.test(code)) return undefined;
    const result = await verify({ secret, token: code, epochTolerance: PERIOD, ...(afterTimeStep != null ? { afterTimeStep } : {}) });
    // The time step (RFC 6238 T) of the matching code: the functional API types HOTP and TOTP results together.
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }

  /**
   * Confirms an enrollment with a code from the app; returns the recovery codes (shown once, stored
   * as digests) or null when the code is wrong.
   */
  async confirmEnrollment(account: AccountRecord, sealed: string, code: string, actor: Actor, request: RequestInfo): Promise<string[] | null> {
    const step = await this.checkTotp(this.deps.box.open(sealed), code.replace(/\s/g, ''));
    if (step === undefined) return null;
    await this.deps.accounts.enableTotp(account.id, sealed, step, nowSeconds());
    const codes = Array.from({ length: RECOVERY_CODES }, () => {
      const raw = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
      return `${raw.slice(0, 5)}-${raw.slice(5)}`;
    });
    await this.deps.recoveryCodes.replace(account.id, codes.map(digest));
    await this.deps.audit.record('two_factor.enrolled', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request });
    return codes;
  }

  /** A TOTP code or a recovery code, counted toward lockout before it is checked. */
  async verify(account: AccountRecord, input: string, request: RequestInfo): Promise<SecondFactorCheck> {
    if (!account.totpSecret) return 'invalid';
    if (!(await this.deps.accountService.takeAttempt(account))) return 'locked';
    const code = input.trim().replace(/\s/g, '');
    let ok = false;
    const step = await this.checkTotp(this.deps.box.open(account.totpSecret), code, account.totpLastStep);
    if (step !== undefined) ok = await this.deps.accounts.advanceTotpStep(account.id, step);
    else if (normalizeRecovery(code).length === 10) {
      ok = await this.deps.recoveryCodes.use(account.id, digest(code), nowSeconds());
      if (ok) {
        await this.deps.audit.record('two_factor.recovery_code_used', {
          actor: { type: 'user', id: account.id },
          organizationId: await this.deps.policies.organizationOf(account),
          target: { type: 'user', id: account.id },
          request,
          data: { remaining: await this.deps.recoveryCodes.remaining(account.id) },
        });
      }
    }
    if (!ok) return 'invalid';
    await this.deps.accountService.clearAttempts(account.id);
    return 'ok';
  }

  /** Removes the user's second factor (admin support action); an enforcing policy enrolls them again. */
  async reset(account: AccountRecord, actor: Actor, request: RequestInfo): Promise<void> {
    await this.deps.accounts.disableTotp(account.id, nowSeconds());
    await this.deps.recoveryCodes.clear(account.id);
    await this.deps.audit.record('two_factor.reset', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request });
  }
}
