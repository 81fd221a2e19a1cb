import type { Logger } from 'pino';
import { EXPIRATION_DAYS } from '../policy/security-policy.js';
import { passwordExpiresAt } from '../policy/password-rules.js';
import type { AccountStore } from '../stores/sql/accounts.js';
import { nowSeconds } from '../stores/db.js';
import { m } from '../i18n/message.js';
import type { MailService } from './mail.js';
import { PolicyUnreadableError } from './errors.js';
import type { PolicyService } from './policies.js';
import { isUsableHash } from './passwords.js';

/** Emails each user once per password, `warningDays` before it expires under the policy that governs them. */
export class PasswordExpiryWarnings {
  constructor(
    private readonly deps: { accounts: AccountStore; policies: PolicyService; mail: MailService; warningDays: number; logger?: Logger },
  ) {}

  async run(): Promise<string[]> {
    const { warningDays } = this.deps;
    if (warningDays === 0) return [];
    const now = nowSeconds();
    // No policy expires a password sooner than the shortest allowed expiry: older passwords are the only candidates.
    const oldest = now - (Math.min(...EXPIRATION_DAYS) - warningDays) * 86400;
    const warned: string[] = [];
    for (const account of await this.deps.accounts.unwarnedOlderThan(oldest)) {
      if (!isUsableHash(account.passwordHash)) continue; // invited, no password yet: nothing expires
      // An unreadable policy (logged by the policy service) skips the users it governs, not everyone after them.
      const effective = await this.deps.policies.effectiveFor(account).catch((err) => {
        if (err instanceof PolicyUnreadableError) return undefined;
        throw err;
      });
      if (!effective) continue;
      const { policy } = effective;
      const expiresAt = passwordExpiresAt(policy.password, account.passwordChangedAt);
      if (expiresAt === null || now < expiresAt - warningDays * 86400 || now >= expiresAt) continue;
      // Claimed before sending, so two nodes running the job never both send it.
      if (!(await this.deps.accounts.claimExpiryWarning(account.id, account.passwordChangedAt))) continue;
      // No request: the account's stored language, else DEFAULT_LOCALE.
      const sent = await this.deps.mail.sendTo(account, {
        subject: m('Your Gatehouse password expires soon'),
        lines: [
          m('The password of {{email}} expires on {{when}}.', { email: account.email, when: new Date(expiresAt * 1000) }),
          m('Change it before then; after that date you will be asked for a new one when you sign in.'),
        ],
      });
      if (sent) warned.push(account.email);
      else await this.deps.accounts.releaseExpiryWarning(account.id, account.passwordChangedAt);
    }
    return warned;
  }
}
