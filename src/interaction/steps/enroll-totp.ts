import type { Services } from '../../services/index.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

export const ENROLLMENT_SUPERSEDED = 'Two-step verification was set up or changed for this account in the meantime. This setup is no longer valid: sign in again.';

/** Enrollment, when the policy enforces a second factor the user does not have yet: scan, confirm, keep the recovery codes. */
export class EnrollTotpStep implements Step {
  readonly name = 'enroll-totp' as const;

  constructor(private readonly services: Services) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[] }) {
    const account = await this.services.accounts.get(s.flow.accountId!);
    const enrollment = await this.services.twoFactor.showEnrollment(account, s.flow.pendingTotp!);
    // A dead enrollment is not shown again: its seed can never be confirmed.
    if (!enrollment) return render(s.ctx, 'error', { message: ENROLLMENT_SUPERSEDED, code: null }, 409);
    await render(
      s.ctx,
      'enroll-totp',
      { uid: s.flow.uid, csrf: s.flow.csrf, qr: enrollment.qrDataUrl, secret: enrollment.secret.replace(/(.{4})/g, '$1 ').trim(), errors: shown.errors },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const code = typeof form.code === 'string' ? form.code.trim() : '';
    if (!code) return { kind: 'again', status: 400, errors: ['Enter the 6-digit code your app shows.'] };
    const account = await this.services.accounts.get(s.flow.accountId!);
    const codes = await this.services.twoFactor.confirmEnrollment(account, s.flow.pendingTotp!, code, { type: 'user', id: account.id }, s.request);
    if (!codes) return { kind: 'again', status: 400, errors: ['That code is not valid. Check the time on your phone and try again.'] };
    // A factor was confirmed (or removed) since this enrollment started, perhaps in another browser:
    // this enrollment is dead, and the existing factor must be passed, never replaced.
    if (codes === 'superseded') return { kind: 'again', status: 409, errors: [ENROLLMENT_SUPERSEDED], values: { email: account.email }, failure: 'enrollment-superseded' };
    // The recovery codes are shown in this answer, once; the flow keeps no copy.
    const flow = { ...s.flow, step: 'recovery-codes' as const, pendingTotp: undefined };
    return { kind: 'page', flow, view: 'recovery-codes', data: { uid: s.flow.uid, csrf: s.flow.csrf, codes } };
  }
}

/** After enrollment: the user confirms they kept the recovery codes. */
export class RecoveryCodesStep implements Step {
  readonly name = 'recovery-codes' as const;

  async render(s: StepContext) {
    // Shown once: a reload only offers to continue.
    await render(s.ctx, 'recovery-codes', { uid: s.flow.uid, csrf: s.flow.csrf, codes: [] });
  }

  async submit(): Promise<StepOutcome> {
    return { kind: 'second-factor-passed' };
  }
}
