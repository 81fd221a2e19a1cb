import { checkPassword, nextChangeAllowedAt, type PasswordRules } from '../policy/password-rules.js';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { PasswordHistoryStore } from '../stores/sql/password-history.js';
import type { ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { nowSeconds } from '../stores/db.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { problemOf, type FieldProblem } from './errors.js';
import { m } from '../i18n/message.js';
import { fromAddress, ownersRequest, type MailService } from './mail.js';
import type { PasswordHasher } from './passwords.js';
import type { PolicyService } from './policies.js';
import type { SessionService } from './sessions.js';

/**
 * self: the user changes it (current password required, minimum age applies).
 * forced: at sign-in, because it expired or an admin required it (exempt from minimum age).
 * reset: through a forgot-password or admin-sent link (exempt from minimum age).
 * invitation: the first password of an invited user, through the invitation link.
 */
export type ChangeKind = 'self' | 'forced' | 'reset' | 'invitation';

export interface ChangeRequest {
  account: AccountRecord;
  newPassword: string;
  kind: ChangeKind;
  currentPassword?: string;
  actor: Actor;
  request?: RequestInfo;
  /** The browser session making the change stays signed in; every other one ends. */
  keepSessionId?: string;
}

/** locked: too many failed attempts (the current password was not checked). */
export type ChangeResult = { ok: true } | { ok: false; errors: FieldProblem[]; retryAt?: number; locked?: true };

/** Checks a signed-in user's current password on the sign-in lockout counter (AccountService.checkCurrentPassword). */
export interface CurrentPasswordCheck {
  checkCurrentPassword(account: AccountRecord, password: string): Promise<'ok' | 'invalid' | 'locked'>;
}

/** Every place a password is set goes through here: rules, history, minimum age, then the consequences. */
export class PasswordChangeService {
  constructor(
    private readonly deps: {
      accounts: AccountStore;
      history: PasswordHistoryStore;
      resetTokens: ResetTokenStore;
      hasher: PasswordHasher;
      policies: PolicyService;
      sessions: SessionService;
      mail: MailService;
      audit: AuditService;
      currentPasswords: CurrentPasswordCheck;
    },
  ) {}

  /** The policy rules and the reuse rule, without changing anything. */
  async check(account: AccountRecord, newPassword: string): Promise<ChangeResult> {
    const { policy } = await this.deps.policies.effectiveFor(account);
    return this.checkAgainst(policy.password, account, newPassword);
  }

  private async checkAgainst(rules: PasswordRules, account: AccountRecord, newPassword: string): Promise<ChangeResult> {
    const violations = checkPassword(rules, newPassword, account);
    if (violations.length) {
      return {
        ok: false,
        errors: violations.map((v) => problemOf('newPassword', v.message, v)),
      };
    }
    // The current password is always refused; with history on, so are the last historyCount.
    const recent = await this.deps.history.recent(account.id, Math.max(1, rules.historyCount ?? 1));
    const hashes = [...new Set([account.passwordHash, ...recent])];
    // argon2 runs on the thread pool: checking ten hashes does not block the event loop.
    const matches = await Promise.all(hashes.map((h) => this.deps.hasher.verify(h, newPassword)));
    if (matches.some((m) => m.ok)) {
      const message = rules.historyCount
        ? m('Choose a password you have not used for your last {{count}} passwords.', { count: rules.historyCount })
        : m('Choose a password different from your current one.');
      return { ok: false, errors: [problemOf('newPassword', message, { code: 'password.reused' })] };
    }
    return { ok: true };
  }

  async change(r: ChangeRequest): Promise<ChangeResult> {
    const { account } = r;
    const { policy, organizationId } = await this.deps.policies.effectiveFor(account);
    const rules = policy.password;
    const now = nowSeconds();

    if (r.kind === 'self') {
      // Whatever needs no secret comes first, so that until a change is allowed the answer is the same
      // for a right and a wrong current password (no oracle): the minimum age, then the password itself,
      // counted on the sign-in lockout counter (a locked account's hash is not checked at all).
      const allowedAt = nextChangeAllowedAt(rules, account.passwordChangedAt, now);
      if (allowedAt !== null) {
        return {
          ok: false,
          retryAt: allowedAt,
          // A Date: pages show it in the reader's language and time zone; the API as ISO 8601.
          errors: [problemOf('newPassword', m('You changed your password recently. You can change it again after {{when}}.', { when: new Date(allowedAt * 1000) }), { code: 'password.too_soon' })],
        };
      }
      const current = await this.deps.currentPasswords.checkCurrentPassword(account, r.currentPassword ?? '');
      if (current === 'locked') {
        return {
          ok: false,
          locked: true,
          errors: [problemOf('currentPassword', m('Too many failed attempts. Try again later, or reset your password.'), { code: 'account.locked' })],
        };
      }
      if (current === 'invalid') {
        return { ok: false, errors: [problemOf('currentPassword', m('Your current password is not correct.'), { code: 'password.current_incorrect' })] };
      }
    }

    const checked = await this.checkAgainst(rules, account, r.newPassword);
    if (!checked.ok) return checked;

    const hash = await this.deps.hasher.hash(r.newPassword);
    await this.deps.accounts.setPassword(account.id, hash, now);
    await this.deps.history.add(account.id, hash, now);
    await this.deps.resetTokens.useAll(account.id, now);
    const ended = await this.deps.sessions.endAll(account.id, r.keepSessionId);
    await this.deps.audit.record('password.changed', {
      actor: r.actor,
      organizationId: organizationId ?? account.organizationId,
      target: { type: 'user', id: account.id },
      request: r.request,
      data: { kind: r.kind, endedSessions: ended.sessions, revokedGrants: ended.grants },
    });
    // An invited user has just chosen their first password: there is no earlier one to warn about.
    if (r.kind !== 'invitation') {
      await this.deps.mail.sendTo(account, {
        subject: m('Your Gatehouse password was changed'),
        lines: [
          m('The password of {{email}} was changed on {{when}}.', { email: account.email, when: new Date(now * 1000) }),
          ...fromAddress(r.request),
          m('You have been signed out everywhere else.'),
          '',
          m('If this was not you, reset your password at once and contact your administrator.'),
        ],
      }, ownersRequest(account, r.actor, r.request));
    }
    return { ok: true };
  }
}
