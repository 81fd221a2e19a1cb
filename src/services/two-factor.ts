import { createHash, randomInt, randomUUID } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { enrolledFactors, type EnrolledFactors, type FactorRecord, type FactorStore, type TotpFactor } from '../stores/factors.js';
import type { RecoveryCodeStore } from '../stores/sql/recovery-codes.js';
import { nowSeconds } from '../stores/db.js';
import type { AccountService } from './accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import type { PolicyService } from './policies.js';
import type { SecretBox } from './secret-box.js';
import { m, type Text } from '../i18n/message.js';
import { fromAddress, ownersRequest, type MailLine, type MailService } from './mail.js';
import { NO_METRICS, type Metrics, type SecondFactorMethod } from '../observability/metrics.js';

const PERIOD = 30;
/**
 * Codes of up to two 30-second steps either side of this node's clock are accepted: a phone, or a
 * node, a minute off still signs in. Replay protection is separate (a step at or before the last used
 * one is refused), so the window never depends on which node accepted the previous code.
 */
const DRIFT_SECONDS = 2 * PERIOD;
const RECOVERY_CODES = 10;
const RECOVERY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O, 1/I

/** Recovery codes are compared case- and dash-insensitively. */
const normalizeRecovery = (code: string) => code.toUpperCase().replace(/[^A-Z0-9]/g, '');
const digest = (code: string) => createHash('sha256').update(normalizeRecovery(code)).digest('hex');

export interface Enrollment {
  /**
   * Sealed seed and the factor generation it was started at, to carry in the sign-in flow until the
   * user confirms a code. It can be confirmed only while the generation is unchanged and no factor
   * exists: once any factor is confirmed (or removed) every older enrollment is dead.
   */
  sealed: string;
  /** For manual entry in an authenticator app. */
  secret: string;
  uri: string;
  qrDataUrl: string;
}

export type SecondFactorCheck = 'ok' | 'invalid' | 'locked';

/** null: the code is wrong; 'superseded': a factor was confirmed or removed since this enrollment started. */
export type EnrollmentResult = string[] | null | 'superseded';

interface PendingEnrollment {
  seed: string;
  generation: number;
}

/** The label of a TOTP factor (the factor table has one per authenticator; there is at most one TOTP). */
export const TOTP_LABEL = 'Authenticator app';

/**
 * TOTP (RFC 6238, 30-second steps, two steps of clock drift either way) with single-use recovery codes,
 * and the account's second factors as a whole (FactorStore: TOTP and passkeys). Seeds are stored
 * sealed; an accepted code's time step is remembered, so a code works once. Failed codes count toward
 * the account's lockout like failed passwords.
 */
export class TwoFactorService {
  constructor(
    private readonly deps: {
      factors: FactorStore;
      accountService: AccountService;
      recoveryCodes: RecoveryCodeStore;
      policies: PolicyService;
      box: SecretBox;
      audit: AuditService;
      mail: MailService;
      issuerName: string;
      metrics?: Metrics;
    },
  ) {}

  async startEnrollment(account: AccountRecord): Promise<Enrollment> {
    const pending: PendingEnrollment = { seed: generateSecret(), generation: await this.deps.factors.generation(account.id) };
    return this.present(account, this.deps.box.seal(JSON.stringify(pending)), pending.seed);
  }

  /**
   * Re-derives what the enrollment page shows from the sealed enrollment carried by the flow;
   * undefined when the enrollment is dead (a factor was confirmed or removed since it started).
   */
  async showEnrollment(account: AccountRecord, sealed: string): Promise<Enrollment | undefined> {
    const pending = this.openPending(sealed);
    if (!pending || pending.generation !== (await this.deps.factors.generation(account.id))) return undefined;
    return this.present(account, sealed, pending.seed);
  }

  private async present(account: AccountRecord, sealed: string, secret: string): Promise<Enrollment> {
    const uri = generateURI({ issuer: this.deps.issuerName, label: account.email, secret });
    return { sealed, secret, uri, qrDataUrl: await QRCode.toDataURL(uri, { margin: 1, width: 220 }) };
  }

  /** undefined for anything but an enrollment sealed by startEnrollment (say, one from before generations). */
  private openPending(sealed: string): PendingEnrollment | undefined {
    try {
      const p = JSON.parse(this.deps.box.open(sealed)) as Partial<PendingEnrollment>;
      return typeof p.seed === 'string' && Number.isInteger(p.generation) ? (p as PendingEnrollment) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The time step (RFC 6238 T) of the code, when it is valid within DRIFT_SECONDS of this node's clock.
   * Replay is judged by the caller against the stored last step, never handed to otplib: otplib throws
   * when that step lies beyond its window (a node whose clock is behind the one that accepted it).
   */
  private async checkTotp(secret: string, code: string): Promise<number | undefined> {
    if (!/^\d{6}$/.test(code)) return undefined;
    const result = await verify({ secret, token: code, epochTolerance: DRIFT_SECONDS });
    // The functional API types HOTP and TOTP results together.
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }

  /**
   * Confirms an enrollment with a code from the app; returns the recovery codes (shown once, stored
   * as digests), null when the code is wrong, or 'superseded' when a factor was confirmed or removed
   * since this enrollment started (the enrollment is dead: a confirmed factor is never replaced here).
   * `besideOthers` (the account page): the app may join the account's passkeys, as long as nothing was
   * added or removed since the enrollment started; an empty list then means "added, the recovery codes
   * stay as they were" (new codes come with an account's first factor only).
   */
  async confirmEnrollment(account: AccountRecord, sealed: string, code: string, actor: Actor, request: RequestInfo, options: { besideOthers?: boolean } = {}): Promise<EnrollmentResult> {
    const pending = this.openPending(sealed);
    if (!pending) return 'superseded';
    const step = await this.checkTotp(pending.seed, code.replace(/\s/g, ''));
    if (step === undefined) return null;
    const now = nowSeconds();
    const factor: TotpFactor = {
      id: randomUUID(),
      accountId: account.id,
      kind: 'totp',
      label: TOTP_LABEL,
      createdAt: now,
      lastUsedAt: null,
      secret: this.deps.box.seal(pending.seed),
      lastStep: step, // the confirming code is used up
    };
    let codes: string[] = [];
    if (await this.deps.factors.addFirst(factor, pending.generation)) codes = await this.issueRecoveryCodes(account.id);
    else if (!options.besideOthers || !(await this.deps.factors.add(factor, { generation: pending.generation }))) return 'superseded';
    await this.deps.audit.record('two_factor.enrolled', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request });
    await this.notify(account, m('Two-step verification was turned on'), [
      m('An authenticator app was set up as the second step of signing in to {{email}} on {{when}}.', { email: account.email, when: new Date(now * 1000) }),
      ...fromAddress(request),
      '',
      m('If this was not you, reset your password at once and ask your administrator to reset two-step verification.'),
    ], ownersRequest(account, actor, request));
    return codes;
  }

  /**
   * Removes the account's authenticator app (the account page). With `keepOne` (the policy requires a
   * second factor) it is refused when it is the account's only factor, decided by the store under a lock.
   * Audited and mailed.
   */
  async removeTotp(account: AccountRecord, options: { keepOne: boolean }, actor: Actor, request: RequestInfo): Promise<'removed' | 'last' | 'gone'> {
    const totp = (await this.deps.factors.listByAccount(account.id)).find((f) => f.kind === 'totp');
    if (!totp) return 'gone';
    const outcome = await this.deps.factors.remove(account.id, totp.id, options);
    if (outcome !== 'removed') return outcome;
    await this.deps.audit.record('two_factor.removed', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request, data: { kind: 'totp' } });
    await this.notify(account, m('An authenticator app was removed'), [
      m('The authenticator app of {{email}} was removed on {{when}}. It can no longer be used to sign in.', { email: account.email, when: new Date(nowSeconds() * 1000) }),
      ...fromAddress(request),
      '',
      m('If this was not you, reset your password at once and tell your administrator.'),
    ], ownersRequest(account, actor, request));
    return 'removed';
  }

  /**
   * A new set of recovery codes asked for by the user (the account page): the old set stops working at
   * once (RecoveryCodeStore.replace). Refused (undefined) for an account without a second factor, whose
   * codes would open nothing. Audited and mailed; the codes are returned to be shown once.
   */
  async regenerateRecoveryCodes(account: AccountRecord, actor: Actor, request: RequestInfo): Promise<string[] | undefined> {
    if (!(await this.deps.factors.listByAccount(account.id)).length) return undefined;
    const codes = await this.issueRecoveryCodes(account.id);
    await this.deps.audit.record('two_factor.recovery_codes_renewed', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request });
    await this.notify(account, m('New recovery codes were made'), [
      m('A new set of recovery codes was made for {{email}} on {{when}}. The earlier codes no longer work.', { email: account.email, when: new Date(nowSeconds() * 1000) }),
      ...fromAddress(request),
      '',
      m('If this was not you, reset your password at once and tell your administrator.'),
    ], ownersRequest(account, actor, request));
    return codes;
  }

  /** How many unused recovery codes the account has. */
  recoveryCodesLeft(accountId: string): Promise<number> {
    return this.deps.recoveryCodes.remaining(accountId);
  }

  /**
   * A new set of recovery codes for the account, replacing any earlier set: returned once, to be shown
   * once, and stored only as digests. Issued when the account's first factor (of either kind) is set up.
   */
  async issueRecoveryCodes(accountId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, () => {
      const raw = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
      return `${raw.slice(0, 5)}-${raw.slice(5)}`;
    });
    await this.deps.recoveryCodes.replace(accountId, codes.map(digest));
    return codes;
  }

  /**
   * A TOTP code or a recovery code, counted toward lockout before it is checked. Recovery codes work
   * for any account with a second factor (a passkey user whose authenticator is gone, too).
   */
  async verify(account: AccountRecord, input: string, request: RequestInfo): Promise<SecondFactorCheck> {
    const factors = await this.deps.factors.listByAccount(account.id);
    if (!factors.length) return 'invalid';
    const code = input.trim().replace(/\s/g, '');
    // For the metrics: what the code looks like (a refused one was not checked against anything in particular).
    const method: SecondFactorMethod = normalizeRecovery(code).length === 10 ? 'recovery_code' : 'totp';
    const result = await this.check(account, factors, code, request);
    (this.deps.metrics ?? NO_METRICS).secondFactor(method, result);
    return result;
  }

  private async check(account: AccountRecord, factors: FactorRecord[], code: string, request: RequestInfo): Promise<SecondFactorCheck> {
    if (!(await this.deps.accountService.takeAttempt(account))) return 'locked';
    let ok = false;
    const totp = factors.find((f): f is TotpFactor => f.kind === 'totp');
    const step = totp && (await this.checkTotp(this.deps.box.open(totp.secret), code));
    // A step at or before the last used one is a replay: refused here, and atomically by the store.
    if (totp && step !== undefined) ok = (totp.lastStep === null || step > totp.lastStep) && (await this.deps.factors.advanceTotpStep(totp.id, step, nowSeconds()));
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

  /** Which second factors the account has: the one answer the sign-in sequence and the policy ask. */
  async enrolled(accountId: string): Promise<EnrolledFactors> {
    return enrolledFactors(await this.deps.factors.listByAccount(accountId));
  }

  /** The account's factors, oldest first (TOTP and passkeys). */
  list(accountId: string): Promise<FactorRecord[]> {
    return this.deps.factors.listByAccount(accountId);
  }

  /** `list` for many accounts in one read, by account id. */
  listMany(accountIds: readonly string[]): Promise<Map<string, FactorRecord[]>> {
    return this.deps.factors.listByAccounts(accountIds);
  }

  /**
   * Removes all of the user's second factors (TOTP and passkeys) and recovery codes (admin support
   * action); an enforcing policy enrolls them again. Any enrollment started before dies. Mailed when
   * there was a factor to remove.
   */
  async reset(account: AccountRecord, actor: Actor, request: RequestInfo): Promise<void> {
    const now = nowSeconds();
    const removed = await this.deps.factors.removeAll(account.id);
    await this.deps.recoveryCodes.clear(account.id);
    await this.deps.audit.record('two_factor.reset', { actor, organizationId: await this.deps.policies.organizationOf(account), target: { type: 'user', id: account.id }, request });
    if (removed > 0) {
      await this.notify(account, m('Two-step verification was removed'), [
        m('An administrator removed every second factor (authenticator app, passkeys) and the recovery codes of {{email}} on {{when}}.', { email: account.email, when: new Date(now * 1000) }),
        m('You will be asked to set up two-step verification again if your organization requires it.'),
        '',
        m('If you did not ask for this, contact your administrator.'),
      ], ownersRequest(account, actor, request));
    }
  }

  /**
   * Adding or removing a factor is always mailed to the account's address (delivery failures are logged by
   * MailService), in the account's language (see mailLocale; `ownersRequest` only when the owner acted).
   */
  private async notify(account: AccountRecord, subject: Text, lines: MailLine[], ownersRequest?: RequestInfo) {
    await this.deps.mail.notify(account, subject, lines, ownersRequest);
  }
}
