import { m } from '../../i18n/message.js';
import { PasskeyStrategy } from '../strategies/passkey.js';
import { render } from '../views.js';
import { chosenMethod, otherMethods, outcomeOf } from './second-factor.js';
import { str, type Shown, type Step, type StepContext, type StepOutcome } from './step.js';

/** Second step with one of the account's passkeys (offered first when the account has one). */
export class PasskeyStep implements Step {
  readonly name = 'passkey' as const;

  constructor(private readonly passkey: PasskeyStrategy) {}

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    await render(s.ctx, 'passkey', { uid: s.flow.uid, csrf: s.flow.csrf, errors: shown.errors, others: otherMethods(s, 'passkey') }, shown.status);
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const chosen = chosenMethod(form);
    if (chosen) return chosen;
    const credential = str(form.credential);
    if (!credential) return { kind: 'again', status: 400, errors: [m('Use your passkey when your browser asks. A passkey needs JavaScript.')] };
    return outcomeOf(await this.passkey.verify(s, { credential, use: 'second' }));
  }
}

