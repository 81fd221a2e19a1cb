import { randomBytes } from 'node:crypto';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { nowSeconds } from '../stores/db.js';
import { normalizeEmail } from './accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { m } from '../i18n/message.js';
import { ownersRequest, type MailService } from './mail.js';
import type { PasswordChangeService } from './password-changes.js';
import type { Throttle } from './rate-limit.js';
import type { PolicyService } from './policies.js';
import { completeLink, inspectLink, linkDigest, type LinkCompletion } from './mailed-links.js';

export type ResetCompletion = LinkCompletion;

/**
 * Forgot-password and admin-sent reset links: single use, expiring, stored only as a digest. A
 * request answers the same whether or not the address has an account; the work happens after the
 * answer, so the timing does not tell either.
 */
export class PasswordResetService {
  constructor(
    private readonly deps: {
      accounts: AccountStore;
      tokens: ResetTokenStore;
      changes: PasswordChangeService;
      policies: PolicyService;
      mail: MailService;
      audit: AuditService;
      perEmail: Throttle;
      perAddress: Throttle;
      issuer: string;
      ttlMinutes: number;
    },
  ) {}

  /** Whether the caller's address may ask again now; the caller answers 429 when not. */
  async allowAddress(ip: string | null): Promise<boolean> {
    return this.deps.perAddress.take(`ip:${ip ?? 'unknown'}`);
  }

  /** Sends a reset link if the address has an active account and its per-email budget allows. Never throws. */
  async request(emailInput: string, request: RequestInfo): Promise<void> {
    const email = normalizeEmail(emailInput);
    if (!email || !(await this.deps.perEmail.take(`email:${email}`))) return;
    const account = await this.deps.accounts.findByEmail(email);
    if (!account || account.status !== 'active') return;
    await this.issue(account, { type: 'anonymous' }, request, 'forgot');
  }

  /** Admin-initiated: sends the link, and optionally requires a new password at the next sign-in. */
  async adminReset(account: AccountRecord, requireChangeAtNextSignIn: boolean, actor: Actor, request: RequestInfo): Promise<void> {
    if (requireChangeAtNextSignIn) await this.deps.accounts.setMustChangePassword(account.id, true, nowSeconds());
    await this.issue(account, actor, request, 'admin', requireChangeAtNextSignIn);
  }

  private async issue(account: AccountRecord, actor: Actor, request: RequestInfo, via: 'forgot' | 'admin', requireChange = false) {
    const token = randomBytes(32).toString('base64url');
    const now = nowSeconds();
    await this.deps.tokens.insert(linkDigest(token), account.id, now, now + this.deps.ttlMinutes * 60);
    await this.deps.audit.record('password.reset_requested', {
      actor,
      organizationId: await this.deps.policies.organizationOf(account),
      target: { type: 'user', id: account.id },
      request,
      data: { via, requireChangeAtNextSignIn: requireChange },
    });
    const link = `${this.deps.issuer}/password/reset?token=${token}`;
    // Forgot password: whoever asks is taken for the owner (the mail goes only to the owner's address).
    const owners = via === 'forgot' ? request : ownersRequest(account, actor, request);
    await this.deps.mail.sendTo(account, {
      subject: m('Reset your Gatehouse password'),
      lines: [
        via === 'admin' ? m('An administrator asked Gatehouse to let you choose a new password.') : m('Someone asked to reset the password of this account.'),
        '',
        m('Choose a new password here (the link works once, for {{count}} minutes):', { count: this.deps.ttlMinutes }),
        { verbatim: link },
        ...(via === 'forgot' ? ['', m('If it was not you, ignore this email: your password stays as it is.')] : []),
      ],
    }, owners);
  }

  /** The account a reset link is for, while it is unused and unexpired and the account active. */
  inspect(token: string): Promise<AccountRecord | undefined> {
    return inspectLink(this.deps, 'reset', token);
  }

  /** Sets the new password (see completeLink): a refused one leaves the link usable; a completed reset verifies the email. */
  complete(token: string, newPassword: string, request: RequestInfo): Promise<ResetCompletion> {
    return completeLink(this.deps, 'reset', token, newPassword, request);
  }
}
