import { m } from '../../i18n/message.js';
import { passwordReason } from '../sequence.js';
import { render } from '../views.js';
import type { Shown, Step, StepContext, StepOutcome } from './step.js';

/**
 * "Your password expires on …" (or, after a passkey sign-in, "has expired" / "your administrator asks
 * for a new one"): change it now, or carry on.
 */
export class ExpiryWarningStep implements Step {
  readonly name = 'expiry-warning' as const;

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    const { facts } = s.known!;
    const expiresAt = new Date((facts.passwordExpiresAt ?? 0) * 1000);
    const days = Math.max(0, Math.ceil((expiresAt.getTime() - facts.now * 1000) / 86_400_000));
    const reason = passwordReason(facts) ?? 'expiring';
    const lead =
      reason === 'expiring'
        ? m('Your password expires in {{count}} days, on {{when}}. After that you will have to choose a new one to sign in.', { count: days, when: expiresAt })
        : reason === 'expired'
          ? m('Your password expired on {{when}}. You signed in with a passkey, so you can carry on; you will need a new password the next time you sign in with your password.', { when: expiresAt })
          : m('Your administrator asks you to choose a new password. You signed in with a passkey, so you can carry on; you will need a new password the next time you sign in with your password.');
    await render(
      s.ctx,
      'expiry-warning',
      { uid: s.flow.uid, csrf: s.flow.csrf, reason, lead, errors: shown.errors },
      shown.status,
    );
  }

  async submit(_s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (form.action === 'change') return { kind: 'event', event: { type: 'change-password-chosen' } };
    if (form.action === 'continue') return { kind: 'event', event: { type: 'password-settled' } };
    return { kind: 'again', status: 400, errors: [m('Choose whether to change your password now.')] };
  }
}
