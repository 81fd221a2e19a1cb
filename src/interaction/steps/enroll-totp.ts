import type { Services } from '../../services/index.js';
import { m } from '../../i18n/message.js';
import { amrOf as amrOfPasskey } from '../../services/passkeys.js';
import { bindingOf } from '../strategies/passkey.js';
import type { SignInFlow } from '../flow.js';
import { render } from '../views.js';
import { str, type Shown, type Step, type StepContext, type StepOutcome } from './step.js';

export const ENROLLMENT_SUPERSEDED = m('Two-step verification was set up or changed for this account in the meantime. This setup is no longer valid: sign in again.');

/**
 * The policy requires a second factor and the account has none: "Add a passkey" first, "Use an
 * authenticator app" second. The passkey ceremony runs on this page (strategies/passkey.ts).
 */
export class EnrollStep implements Step {
  readonly name = 'enroll' as const;

  constructor(private readonly services: Services) {}

  /** The factor generation this enrollment starts at: a passkey is added only if nothing changed since. */
  async enter(s: StepContext, flow: SignInFlow): Promise<SignInFlow> {
    if (flow.enrollGeneration !== undefined) return flow;
    return { ...flow, enrollGeneration: await this.services.factorStore.generation(s.known!.account.id) };
  }

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    await render(s.ctx, 'enroll', { uid: s.flow.uid, csrf: s.flow.csrf, errors: shown.errors }, shown.status);
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (str(form.choose) === 'totp') return { kind: 'event', event: { type: 'enrollment-chosen', method: 'totp' } };
    if (str(form.choose) !== 'passkey') return { kind: 'again', status: 400, errors: [m('Choose how you want to confirm it is you.')] };
    const credential = str(form.credential);
    if (!credential) return { kind: 'again', status: 400, errors: [m('Adding a passkey needs JavaScript. Turn it on, or use an authenticator app.')] };
    const { account } = s.known!;
    let response: unknown;
    try {
      response = JSON.parse(credential);
    } catch {
      return { kind: 'again', status: 400, errors: [PASSKEY_NOT_ADDED] };
    }
    const verified = await this.services.passkeys.verifyRegistration(account, bindingOf(s.flow.uid), response, { label: defaultPasskeyLabel(s.request.userAgent) });
    if (!verified.ok) return { kind: 'again', status: 400, errors: [PASSKEY_NOT_ADDED] };
    const added = await this.services.passkeys.addPasskey(account, verified.factor, { first: s.flow.enrollGeneration ?? -1 }, { type: 'user', id: account.id }, s.request);
    // As with an app: a factor confirmed (or removed) meanwhile, perhaps in another browser, kills this enrollment.
    if (!added) return { kind: 'again', status: 409, errors: [ENROLLMENT_SUPERSEDED], values: { email: account.email }, failure: 'enrollment-superseded', accountId: account.id };
    const codes = await this.services.twoFactor.issueRecoveryCodes(account.id);
    return { kind: 'event', event: { type: 'enrolled', passed: { method: 'passkey', amr: [amrOfPasskey(verified.factor.deviceType)] } }, show: { codes } };
  }
}

const PASSKEY_NOT_ADDED = m('The passkey could not be added. Try again, or use an authenticator app.');

/** "Passkey on Chrome, Linux": a readable default name, which the user can change on the account page. */
export function defaultPasskeyLabel(userAgent: string | null | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : undefined;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : undefined;
  const where = [browser, os].filter(Boolean).join(', ');
  return where ? `Passkey on ${where}` : 'Passkey';
}

/** Enrollment of an authenticator app: scan, confirm a code; the recovery codes follow. */
export class EnrollTotpStep implements Step {
  readonly name = 'enroll-totp' as const;

  constructor(private readonly services: Services) {}

  async enter(s: StepContext, flow: SignInFlow): Promise<SignInFlow> {
    if (flow.pendingTotp) return flow;
    return { ...flow, pendingTotp: (await this.services.twoFactor.startEnrollment(s.known!.account)).sealed };
  }

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    const enrollment = await this.services.twoFactor.showEnrollment(s.known!.account, s.flow.pendingTotp!);
    // A dead enrollment is not shown again: its seed can never be confirmed.
    if (!enrollment) return render(s.ctx, 'error', { message: ENROLLMENT_SUPERSEDED, code: null }, 409);
    await render(
      s.ctx,
      'enroll-totp',
      { uid: s.flow.uid, csrf: s.flow.csrf, qr: enrollment.qrDataUrl, uri: enrollment.uri, secret: enrollment.secret.match(/.{1,4}/g) ?? [], errors: shown.errors },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const code = str(form.code).trim();
    if (!code) return { kind: 'again', status: 400, errors: [m('Enter the 6-digit code your app shows.')] };
    const { account } = s.known!;
    const codes = await this.services.twoFactor.confirmEnrollment(account, s.flow.pendingTotp!, code, { type: 'user', id: account.id }, s.request);
    if (!codes) return { kind: 'again', status: 400, errors: [m('That code is not valid. Check the time on your phone and try again.')] };
    // A factor was confirmed (or removed) since this enrollment started, perhaps in another browser:
    // this enrollment is dead, and the existing factor must be passed, never replaced.
    if (codes === 'superseded') {
      return { kind: 'again', status: 409, errors: [ENROLLMENT_SUPERSEDED], values: { email: account.email }, failure: 'enrollment-superseded', accountId: account.id };
    }
    // The recovery codes are shown in this answer, once; the flow keeps no copy.
    return { kind: 'event', event: { type: 'enrolled', passed: { method: 'totp', amr: ['otp'] } }, show: { codes } };
  }
}

/** After an enrollment: the user confirms they kept the recovery codes. */
export class RecoveryCodesStep implements Step {
  readonly name = 'recovery-codes' as const;

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    // Shown once: a reload only offers to continue.
    await render(s.ctx, 'recovery-codes', { uid: s.flow.uid, csrf: s.flow.csrf, codes: (shown.data?.codes as string[] | undefined) ?? [] });
  }

  async submit(): Promise<StepOutcome> {
    return { kind: 'event', event: { type: 'recovery-codes-kept' } };
  }
}
