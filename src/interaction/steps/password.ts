import type { AccountService } from '../../services/accounts.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

/** Generic on purpose: an unknown email, a wrong password and a disabled account read the same. */
export const SIGN_IN_FAILED = 'Incorrect email or password.';

/** First factor: email and password. */
export class PasswordStep implements Step {
  readonly name = 'password' as const;

  constructor(private readonly accounts: AccountService) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[], values: {} as Record<string, string> }) {
    await render(
      s.ctx,
      'login',
      {
        uid: s.flow.uid,
        csrf: s.flow.csrf,
        clientName: s.client?.clientName ?? null,
        email: shown.values?.email ?? (s.interaction.params.login_hint as string | undefined) ?? '',
        errors: shown.errors,
      },
      shown.status,
    );
  }

  async submit(_s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const errors: string[] = [];
    if (!email) errors.push('Enter your email address.');
    if (!password) errors.push('Enter your password.');
    if (errors.length) return { kind: 'again', status: 400, errors, values: { email } };

    const result = await this.accounts.authenticate(email, password);
    if (!result.ok) return { kind: 'again', status: 401, errors: [SIGN_IN_FAILED], values: { email } };
    return { kind: 'authenticated', accountId: result.account.id };
  }
}
