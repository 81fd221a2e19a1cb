import { m, type Text } from '../i18n/message.js';
import type { FieldProblem } from '../services/errors.js';
import type { Services } from '../services/index.js';
import type { AccountRecord } from '../stores/sql/accounts.js';

export const PASSWORDS_DIFFER = m('The two passwords do not match.');

/** The problems of a service's answer, as a page shows them (translated when the service said it with m()). */
export const shownProblems = (problems: FieldProblem[]): Text[] => problems.map((p) => p.text ?? p.message);

/**
 * What is wrong with a new password typed twice, before it is set (forced change, reset, invitation):
 * undefined when it may be submitted. When the two differ, every rule the first breaks is listed too
 * (security-policy.md: every violation at once), so the user fixes everything in one go.
 */
export async function newPasswordProblems(
  services: Services,
  account: AccountRecord,
  newPassword: string,
  confirm: string,
  empty: Text,
): Promise<Text[] | undefined> {
  if (!newPassword) return [empty];
  if (newPassword === confirm) return undefined;
  const checked = await services.passwordChanges.check(account, newPassword);
  return [PASSWORDS_DIFFER, ...(checked.ok ? [] : shownProblems(checked.errors))];
}
