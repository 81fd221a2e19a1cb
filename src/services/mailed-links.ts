import { createHash } from 'node:crypto';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import type { LinkPurpose, ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { nowSeconds } from '../stores/db.js';
import type { AuditService, RequestInfo } from './audit.js';
import type { ChangeResult, PasswordChangeService } from './password-changes.js';
import type { PolicyService } from './policies.js';

/**
 * Links mailed to a user that end in choosing a password: reset links and invitations. Both are single
 * use, expiring and stored only as a digest; following one to the end proves control of the mailbox.
 */
export interface MailedLinkDeps {
  accounts: AccountStore;
  tokens: ResetTokenStore;
  changes: PasswordChangeService;
  policies: PolicyService;
  audit: AuditService;
}

export type LinkCompletion = ChangeResult | { ok: false; invalidLink: true };

/** Mailed links are stored only as this digest; the token itself exists only in the mail. */
export const linkDigest = (token: string): string => createHash('sha256').update(token).digest('hex');

/** The account a link of this purpose is for, while the link is unused and unexpired and the account active. */
export async function inspectLink(deps: MailedLinkDeps, purpose: LinkPurpose, token: string): Promise<AccountRecord | undefined> {
  const record = token ? await deps.tokens.find(linkDigest(token), purpose) : undefined;
  if (!record || record.usedAt !== null || record.expiresAt <= nowSeconds()) return undefined;
  const account = await deps.accounts.findById(record.accountId);
  return account?.status === 'active' ? account : undefined;
}

/**
 * Sets the password through a link. The rules are checked first (the same checker as every other place a
 * password is set), so a refused password leaves the link usable; then the link is used up with one
 * conditional update, so of two simultaneous submissions exactly one succeeds. A completed link verifies
 * the email.
 */
export async function completeLink(
  deps: MailedLinkDeps,
  purpose: LinkPurpose,
  token: string,
  newPassword: string,
  request: RequestInfo,
): Promise<LinkCompletion> {
  const account = await inspectLink(deps, purpose, token);
  if (!account) return { ok: false, invalidLink: true };
  const preview = await deps.changes.check(account, newPassword);
  if (!preview.ok) return preview;
  if (!(await deps.tokens.use(linkDigest(token), nowSeconds(), purpose))) return { ok: false, invalidLink: true };
  const result = await deps.changes.change({ account, newPassword, kind: purpose, actor: { type: 'user', id: account.id }, request });
  if (result.ok) await recordMailboxProof(deps, account, purpose, request);
  return result;
}

/**
 * The holder of a mailed link followed it to the end: the user controls the mailbox. Recorded once
 * (the first proof's time is kept), with an audit event.
 */
async function recordMailboxProof(deps: MailedLinkDeps, account: AccountRecord, via: LinkPurpose, request: RequestInfo): Promise<void> {
  if (!(await deps.accounts.markEmailVerified(account.id, nowSeconds()))) return;
  await deps.audit.record('user.email_verified', {
    actor: { type: 'user', id: account.id },
    organizationId: await deps.policies.organizationOf(account),
    target: { type: 'user', id: account.id },
    request,
    data: { via },
  });
}
