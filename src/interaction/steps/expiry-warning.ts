import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

/** "Your password expires on …": change it now, or carry on. */
export class ExpiryWarningStep implements Step {
  readonly name = 'expiry-warning' as const;

  async render(s: StepContext, shown = { status: 200, errors: [] as string[] }) {
    const expiresAt = new Date((s.flow.passwordExpiresAt ?? 0) * 1000);
    const days = Math.max(0, Math.ceil((expiresAt.getTime() - Date.now()) / 86_400_000));
    await render(
      s.ctx,
      'expiry-warning',
      { uid: s.flow.uid, csrf: s.flow.csrf, date: expiresAt.toUTCString(), days, errors: shown.errors },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (form.action === 'change') return { kind: 'next', flow: { ...s.flow, step: 'change-password', passwordReason: 'expiring' } };
    if (form.action === 'continue') return { kind: 'signed-in' };
    return { kind: 'again', status: 400, errors: ['Choose whether to change your password now.'] };
  }
}
