import { createHash, randomBytes } from 'node:crypto';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { LinkPurpose, ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { nowSeconds } from '../stores/db.js';
import type { AccountService, NewAccount } from './accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import type { MailService } from './mail.js';
import type { ChangeResult, PasswordChangeService } from './password-changes.js';
import type { PolicyService } from './policies.js';

/** Mailed links are stored only as this digest; the token itself exists only in the mail. */
export const linkDigest = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * The holder of a mailed link followed it to the end: the user controls the mailbox. Recorded once
 * (the first proof's time is kept), with an audit event.
 */
export async function recordMailboxProof(
  deps: { accounts: AccountStore; audit: AuditService; policies: PolicyService },
  account: AccountRecord,
  via: LinkPurpose,
  request: RequestInfo,
): Promise<void> {
  if (!(await deps.accounts.markEmailVerified(account.id, nowSeconds()))) return;
  await deps.audit.record('user.email_verified', {
    actor: { type: 'user', id: account.id },
    organizationId: await deps.policies.organizationOf(account),
    target: { type: 'user', id: account.id },
    request,
    data: { via },
  });
}

export type InvitationCompletion = ChangeResult | { ok: false; invalidLink: true };

/**
 * Users created by an admin without a password. The account exists at once but has no usable
 * password hash, so it cannot sign in (sign-in answers as for a wrong password, in the same time).
 * Gatehouse mails an invitation link: single use, expiring after INVITATION_TTL_HOURS, stored only as
 * a digest (the reset-link store, purpose "invitation"). Following it, the user chooses a password
 * under the policy that governs the address, which also verifies the email.
 */
export class InvitationService {
  constructor(
    private readonly deps: {
      accountService: AccountService;
      accounts: AccountStore;
      tokens: ResetTokenStore;
      changes: PasswordChangeService;
      policies: PolicyService;
      mail: MailService;
      audit: AuditService;
      issuer: string;
      ttlHours: number;
    },
  ) {}

  /**
   * Creates a user for an admin (API or CLI): with the given password, or, with `invite`, without one
   * and with an invitation mailed to the address. Validation and conflicts are AccountService.create's.
   */
  async createUser(input: NewAccount, actor: Actor, request: RequestInfo): Promise<AccountRecord> {
    const account = await this.deps.accountService.create(input);
    if (input.invite) await this.invite(account, actor, request);
    return account;
  }

  /** Mails a fresh invitation link to an account that has no password yet. */
  async invite(account: AccountRecord, actor: Actor, request: RequestInfo): Promise<void> {
    const token = randomBytes(32).toString('base64url');
    const now = nowSeconds();
    const expiresAt = now + this.deps.ttlHours * 3600;
    await this.deps.tokens.insert(linkDigest(token), account.id, now, expiresAt, 'invitation');
    await this.deps.audit.record('user.invited', {
      actor,
      organizationId: await this.deps.policies.organizationOf(account),
      target: { type: 'user', id: account.id },
      request,
      data: { email: account.email, expiresAt: new Date(expiresAt * 1000).toISOString() },
    });
    await this.deps.mail.send({
      to: account.email,
      subject: 'You are invited to Gatehouse',
      text: [
        `An administrator created a Gatehouse account for ${account.email}.`,
        '',
        `Choose your password here (the link works once, for ${this.deps.ttlHours} hours):`,
        `${this.deps.issuer}/invitation?token=${token}`,
        '',
        'If you did not expect this, ignore this email: nobody can sign in to the account until a password is chosen.',
      ].join('\n'),
    });
  }

  /** The account an invitation link is for, while the link is unused and unexpired and the account active. */
  async inspect(token: string): Promise<AccountRecord | undefined> {
    const record = token ? await this.deps.tokens.find(linkDigest(token), 'invitation') : undefined;
    if (!record || record.usedAt !== null || record.expiresAt <= nowSeconds()) return undefined;
    const account = await this.deps.accounts.findById(record.accountId);
    return account?.status === 'active' ? account : undefined;
  }

  /**
   * Sets the first password. The policy is checked first (the same checker as every other place a
   * password is set), so a refused password leaves the link usable; then the link is used up with one
   * conditional update, so of two simultaneous submissions exactly one succeeds.
   */
  async accept(token: string, newPassword: string, request: RequestInfo): Promise<InvitationCompletion> {
    const account = await this.inspect(token);
    if (!account) return { ok: false, invalidLink: true };
    const preview = await this.deps.changes.check(account, newPassword);
    if (!preview.ok) return preview;
    if (!(await this.deps.tokens.use(linkDigest(token), nowSeconds(), 'invitation'))) return { ok: false, invalidLink: true };
    const result = await this.deps.changes.change({ account, newPassword, kind: 'invitation', actor: { type: 'user', id: account.id }, request });
    if (result.ok) await recordMailboxProof(this.deps, account, 'invitation', request);
    return result;
  }
}
