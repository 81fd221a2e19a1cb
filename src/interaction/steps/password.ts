import type { Services } from '../../services/index.js';
import { m, type Text } from '../../i18n/message.js';
import { PasswordStrategy } from '../strategies/password.js';
import type { PasskeyStrategy } from '../strategies/passkey.js';
import { render } from '../views.js';
import { str, type Shown, type Step, type StepContext, type StepOutcome } from './step.js';

export { LOCKED, NETWORK_NOT_ALLOWED, SIGN_IN_FAILED } from '../strategies/password.js';

/** The sign-in page: email and password (the password strategy), or a passkey alone (the passkey strategy). */
export class PasswordStep implements Step {
  readonly name = 'password' as const;
  private readonly password: PasswordStrategy;

  constructor(
    services: Services,
    private readonly passkey: PasskeyStrategy,
  ) {
    this.password = new PasswordStrategy(services);
  }

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
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

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const credential = str(form.credential);
    if (credential) {
      const verdict = await this.passkey.verify(s, { credential, use: 'first' });
      if (verdict.ok) return { kind: 'event', event: verdict.event, accountId: verdict.accountId };
      // The email of a refused passkey is not shown back: the page must not tell whose passkey it was.
      return { kind: 'again', status: verdict.status, errors: [verdict.error], failure: verdict.failure, accountId: verdict.accountId, values: { email: '' }, auditEmail: verdict.email };
    }
    const email = str(form.email).trim();
    const password = str(form.password);
    const errors: Text[] = [];
    if (!email) errors.push(m('Enter your email address.'));
    if (!password) errors.push(m('Enter your password.'));
    if (errors.length) return { kind: 'again', status: 400, errors, values: { email } };
    const verdict = await this.password.verify(s, { email, password });
    if (verdict.ok) return { kind: 'event', event: verdict.event, accountId: verdict.accountId, loaded: verdict.loaded };
    return { kind: 'again', status: verdict.status, errors: [verdict.error], values: { email }, failure: verdict.failure, accountId: verdict.accountId };
  }
}
