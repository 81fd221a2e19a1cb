import { describeRules } from '../../policy/password-rules.js';
import type { Services } from '../../services/index.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

const HEADINGS = {
  expired: 'Your password has expired. Choose a new one to continue.',
  required: 'Your administrator asks you to choose a new password.',
  expiring: 'Choose a new password.',
} as const;

/** A new password before the sign-in completes (expired, required by an admin, or chosen early). */
export class ChangePasswordStep implements Step {
  readonly name = 'change-password' as const;

  constructor(private readonly services: Services) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[] }) {
    const account = await this.services.accounts.get(s.flow.accountId!);
    const { policy } = await this.services.policies.effectiveFor(account);
    await render(
      s.ctx,
      'change-password',
      {
        uid: s.flow.uid,
        csrf: s.flow.csrf,
        lead: HEADINGS[s.flow.passwordReason ?? 'required'],
        email: account.email,
        rules: describeRules(policy.password),
        canSkip: s.flow.passwordReason === 'expiring',
        errors: shown.errors,
      },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (form.action === 'skip' && s.flow.passwordReason === 'expiring') return { kind: 'signed-in' };
    const newPassword = typeof form.newPassword === 'string' ? form.newPassword : '';
    const confirm = typeof form.confirmPassword === 'string' ? form.confirmPassword : '';
    if (!newPassword) return { kind: 'again', status: 400, errors: ['Enter a new password.'] };
    if (newPassword !== confirm) return { kind: 'again', status: 400, errors: ['The two passwords do not match.'] };
    const account = await this.services.accounts.get(s.flow.accountId!);
    const result = await this.services.passwordChanges.change({
      account,
      newPassword,
      kind: 'forced',
      actor: { type: 'user', id: account.id },
      request: s.request,
    });
    if (!result.ok) return { kind: 'again', status: 400, errors: result.errors.map((e) => e.message) };
    return { kind: 'signed-in' };
  }
}
