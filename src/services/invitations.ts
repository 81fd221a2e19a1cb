import { randomBytes } from 'node:crypto';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { nowSeconds } from '../stores/db.js';
import type { AccountService, NewAccount } from './accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { m } from '../i18n/message.js';
import type { MailService } from './mail.js';
import type { PasswordChangeService } from './password-changes.js';
import type { PolicyService } from './policies.js';
import { completeLink, inspectLink, linkDigest, type LinkCompletion } from './mailed-links.js';

export type InvitationCompletion = LinkCompletion;

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
    // Sent for an administrator: the account's stored language or DEFAULT_LOCALE, never the admin's.
    await this.deps.mail.sendTo(account, {
      subject: m('You are invited to Gatehouse'),
      lines: [
        m('An administrator created a Gatehouse account for {{email}}.', { email: account.email }),
        '',
        m('Choose your password here (the link works once, for {{count}} hours):', { count: this.deps.ttlHours }),
        { verbatim: `${this.deps.issuer}/invitation?token=${token}` },
        '',
        m('If you did not expect this, ignore this email: nobody can sign in to the account until a password is chosen.'),
      ],
    });
  }

  /** The account an invitation link is for, while the link is unused and unexpired and the account active. */
  inspect(token: string): Promise<AccountRecord | undefined> {
    return inspectLink(this.deps, 'invitation', token);
  }

  /** Sets the first password (see completeLink): a refused one leaves the link usable; the email is verified. */
  accept(token: string, newPassword: string, request: RequestInfo): Promise<InvitationCompletion> {
    return completeLink(this.deps, 'invitation', token, newPassword, request);
  }
}
