import { describeRules } from '../../policy/password-rules.js';
import { m } from '../../i18n/message.js';
import { newPasswordProblems, shownProblems } from '../new-password.js';
import type { Services } from '../../services/index.js';
import { passwordChangeForced, passwordReason } from '../sequence.js';
import { render } from '../views.js';
import { str, type Shown, type Step, type StepContext, type StepOutcome } from './step.js';

const HEADINGS = {
  expired: m('Your password has expired. Choose a new one to continue.'),
  required: m('Your administrator asks you to choose a new password.'),
  expiring: m('Choose a new password.'),
} as const;

/** A new password before the sign-in completes (expired, required by an admin, or chosen early). */
export class ChangePasswordStep implements Step {
  readonly name = 'change-password' as const;

  constructor(private readonly services: Services) {}

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    const { account, effective, facts } = s.known!;
    await render(
      s.ctx,
      'change-password',
      {
        uid: s.flow.uid,
        csrf: s.flow.csrf,
        lead: HEADINGS[passwordReason(facts) ?? 'expiring'],
        email: account.email,
        rules: describeRules(effective.policy.password),
        canSkip: !passwordChangeForced(s.flow.established, facts),
        errors: shown.errors,
      },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (form.action === 'skip' && !passwordChangeForced(s.flow.established, s.known!.facts)) return { kind: 'event', event: { type: 'password-settled' } };
    const newPassword = str(form.newPassword);
    const confirm = str(form.confirmPassword);
    const { account } = s.known!;
    const problems = await newPasswordProblems(this.services, account, newPassword, confirm, m('Enter a new password.'));
    if (problems) return { kind: 'again', status: 400, errors: problems };
    const result = await this.services.passwordChanges.change({
      account,
      newPassword,
      kind: 'forced',
      actor: { type: 'user', id: account.id },
      request: s.request,
    });
    if (!result.ok) return { kind: 'again', status: 400, errors: shownProblems(result.errors) };
    return { kind: 'event', event: { type: 'password-settled' } };
  }
}
