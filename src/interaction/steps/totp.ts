import type { Services } from '../../services/index.js';
import { render } from '../views.js';
import { LOCKED } from './password.js';
import type { Step, StepContext, StepOutcome } from './step.js';

/** Second factor: a code from the authenticator app, or one of the recovery codes. */
export class TotpStep implements Step {
  readonly name = 'totp' as const;

  constructor(private readonly services: Services) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[] }) {
    await render(s.ctx, 'totp', { uid: s.flow.uid, csrf: s.flow.csrf, errors: shown.errors }, shown.status);
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const code = typeof form.code === 'string' ? form.code.trim() : '';
    if (!code) return { kind: 'again', status: 400, errors: ['Enter the code from your authenticator app, or a recovery code.'] };
    const account = await this.services.accounts.get(s.flow.accountId!);
    const result = await this.services.twoFactor.verify(account, code, s.request);
    if (result === 'ok') return { kind: 'second-factor-passed' };
    const email = { email: account.email };
    return result === 'locked'
      ? { kind: 'again', status: 429, errors: [LOCKED], values: email, failure: 'locked' }
      : { kind: 'again', status: 401, errors: ['That code is not valid. Check your app and try again.'], values: email, failure: 'invalid-second-factor' };
  }
}
