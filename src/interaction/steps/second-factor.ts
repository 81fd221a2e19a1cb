import type { Services } from '../../services/index.js';
import { m } from '../../i18n/message.js';
import type { SecondFactorMethod } from '../sequence.js';
import { looksLikeTotp, OneTimeCodeStrategy } from '../strategies/one-time-codes.js';
import type { Verdict } from '../strategies/strategy.js';
import { render } from '../views.js';
import { str, type Shown, type Step, type StepContext, type StepOutcome } from './step.js';

const METHODS: readonly SecondFactorMethod[] = ['passkey', 'totp', 'recovery-code'];

/** "Use another method" on a second-step page: the user's choice, for the sequence to record. */
export function chosenMethod(form: Record<string, unknown>): StepOutcome | undefined {
  const choice = str(form.choose) as SecondFactorMethod;
  return METHODS.includes(choice) ? { kind: 'event', event: { type: 'second-factor-chosen', method: choice } } : undefined;
}

/** The other second-step methods this account can switch to from the page of `current`. */
export function otherMethods(s: StepContext, current: SecondFactorMethod): SecondFactorMethod[] {
  const { factors } = s.known!;
  return METHODS.filter((m) => m !== current && (m === 'recovery-code' || (m === 'totp' ? factors.totp : factors.passkeys > 0)));
}

export const outcomeOf = (verdict: Verdict): StepOutcome =>
  verdict.ok
    ? { kind: 'event', event: verdict.event }
    : { kind: 'again', status: verdict.status, errors: [verdict.error], values: verdict.email ? { email: verdict.email } : undefined, failure: verdict.failure, accountId: verdict.accountId };

/** Second step: a code from the authenticator app (a recovery code typed here is accepted too). */
export class TotpStep implements Step {
  readonly name = 'totp' as const;
  private readonly totp: OneTimeCodeStrategy;
  private readonly recovery: OneTimeCodeStrategy;

  constructor(services: Services) {
    this.totp = new OneTimeCodeStrategy(services, 'totp');
    this.recovery = new OneTimeCodeStrategy(services, 'recovery-code');
  }

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    await render(s.ctx, 'totp', { uid: s.flow.uid, csrf: s.flow.csrf, errors: shown.errors, others: otherMethods(s, 'totp') }, shown.status);
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const chosen = chosenMethod(form);
    if (chosen) return chosen;
    const code = str(form.code).trim();
    if (!code) return { kind: 'again', status: 400, errors: [m('Enter the code from your authenticator app, or a recovery code.')] };
    return outcomeOf(await (looksLikeTotp(code) ? this.totp : this.recovery).verify(s, code));
  }
}

/** Second step: one of the recovery codes (letters and digits: a text field, not a numeric one). */
export class RecoveryCodeStep implements Step {
  readonly name = 'recovery-code' as const;
  private readonly recovery: OneTimeCodeStrategy;

  constructor(services: Services) {
    this.recovery = new OneTimeCodeStrategy(services, 'recovery-code');
  }

  async render(s: StepContext, shown: Shown = { status: 200, errors: [] }) {
    await render(s.ctx, 'recovery-code', { uid: s.flow.uid, csrf: s.flow.csrf, errors: shown.errors, others: otherMethods(s, 'recovery-code') }, shown.status);
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const chosen = chosenMethod(form);
    if (chosen) return chosen;
    const code = str(form.code).trim();
    if (!code) return { kind: 'again', status: 400, errors: [m('Enter one of your recovery codes.')] };
    return outcomeOf(await this.recovery.verify(s, code));
  }
}
