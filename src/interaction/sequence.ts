/**
 * The order of the sign-in, in one place. PURE: given what the flow has established so far and the
 * facts about the account (its factors, its policy, its password), `nextStep` answers which page comes
 * next, by an ordered list of named checks in the style of oidc-provider's login prompt: each check
 * either names a step ("prompt") or passes ("no need"); the first that names a step wins; when none
 * does, the sign-in is complete.
 *
 * Steps never pick the next step: they report an event (`record` folds it into what the flow has
 * established) and the router asks `nextStep` again. A new method joins by adding a strategy, maybe a
 * step that shows it, and at most a line here.
 */
import { hasSecondFactor, type EnrolledFactors } from '../stores/factors.js';

/** The pages of a sign-in (consent is oidc-provider's own prompt, after the login is complete). */
export type StepName =
  | 'password'
  | 'passkey'
  | 'totp'
  | 'recovery-code'
  | 'enroll'
  | 'enroll-totp'
  | 'recovery-codes'
  | 'change-password'
  | 'expiry-warning'
  | 'consent';

/** Authentication methods (one strategy each, src/interaction/strategies). */
export type Method = 'password' | 'passkey' | 'totp' | 'recovery-code';

/** Second-factor methods a user can switch between on the second-step pages. */
export type SecondFactorMethod = 'passkey' | 'totp' | 'recovery-code';

/** RFC 8176 values. */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'swk' | 'mfa';

/** A method that passed, and the RFC 8176 values it contributes. */
export interface Passed<M extends Method = Method> {
  method: M;
  amr: Amr[];
}

/** What a sign-in has established so far: stored on the flow, changed only by `record`. */
export interface Established {
  /** The first factor (password, or a passkey used alone). */
  first?: Passed<'password' | 'passkey'> & {
    /** A passkey with user verification proves two factors at once: no second step. */
    multiFactor: boolean;
  };
  second?: Passed<SecondFactorMethod>;
  /** The user chose another second-factor method than the one offered first. */
  secondChoice?: SecondFactorMethod;
  /** The user chose to set up an authenticator app rather than a passkey. */
  enrollChoice?: 'totp';
  /** A factor was enrolled during this sign-in: its recovery codes are shown once. */
  enrolled?: boolean;
  recoveryCodesKept?: boolean;
  /** The user chose to change the password before it has to be changed. */
  changePasswordChosen?: boolean;
  /** The password was changed, or the user carried on past a notice about it. */
  passwordSettled?: boolean;
}

/** Facts about the account, read fresh for the request (never cached across requests). */
export interface AccountFacts {
  factors: EnrolledFactors;
  enforce2fa: boolean;
  /** An admin asked for a new password. */
  mustChangePassword: boolean;
  /** When the password expires under the governing policy (epoch seconds), or null. */
  passwordExpiresAt: number | null;
  now: number;
  /** Days before expiry that the sign-in warns. */
  warningDays: number;
}

/** Events that steps report. */
export type SignInEvent =
  | { type: 'first-factor'; passed: NonNullable<Established['first']> }
  | { type: 'second-factor'; passed: Passed<SecondFactorMethod> }
  /** A factor was set up and confirmed in this sign-in (it also passes the second step). */
  | { type: 'enrolled'; passed: Passed<'totp' | 'passkey'> }
  | { type: 'second-factor-chosen'; method: SecondFactorMethod }
  | { type: 'enrollment-chosen'; method: 'totp' }
  | { type: 'recovery-codes-kept' }
  | { type: 'change-password-chosen' }
  | { type: 'password-settled' };

export function record(e: Established, event: SignInEvent): Established {
  switch (event.type) {
    case 'first-factor':
      // A new first factor starts the rest of the sign-in afresh.
      return { first: event.passed };
    case 'second-factor':
      return { ...e, second: event.passed };
    case 'enrolled':
      return { ...e, second: event.passed, enrolled: true, enrollChoice: undefined };
    case 'second-factor-chosen':
      return { ...e, secondChoice: event.method };
    case 'enrollment-chosen':
      return { ...e, enrollChoice: event.method };
    case 'recovery-codes-kept':
      return { ...e, recoveryCodesKept: true };
    case 'change-password-chosen':
      return { ...e, changePasswordChosen: true };
    case 'password-settled':
      return { ...e, passwordSettled: true };
  }
}

/** Why the sign-in shows a password page. */
export type PasswordReason = 'expired' | 'required' | 'expiring';

export function passwordReason(f: AccountFacts): PasswordReason | undefined {
  if (f.mustChangePassword) return 'required';
  if (f.passwordExpiresAt !== null && f.passwordExpiresAt <= f.now) return 'expired';
  if (f.passwordExpiresAt !== null && f.passwordExpiresAt - f.warningDays * 86_400 <= f.now) return 'expiring';
  return undefined;
}

/** Whether the password page must be completed (a password sign-in with an expired or required password). */
export function passwordChangeForced(e: Established, f: AccountFacts): boolean {
  const reason = passwordReason(f);
  return e.first?.method === 'password' && (reason === 'expired' || reason === 'required');
}

const needsSecondStep = (e: Established, f: AccountFacts) =>
  !e.first?.multiFactor && !e.second && (hasSecondFactor(f.factors) || f.enforce2fa);

/** The second-step page for a method the account has; a method it lacks falls back to recovery codes. */
function secondStepFor(method: SecondFactorMethod, f: AccountFacts): StepName {
  if (method === 'passkey' && f.factors.passkeys > 0) return 'passkey';
  if (method === 'totp' && f.factors.totp) return 'totp';
  return 'recovery-code';
}

export interface Check {
  name: string;
  /** The step this check asks for, or null: no need. */
  prompt(e: Established, f: AccountFacts): StepName | null;
}

/** The checks, in order. The first that names a step decides the next page. */
export const CHECKS: readonly Check[] = [
  {
    name: 'first factor: who is signing in',
    prompt: (e) => (e.first ? null : 'password'),
  },
  {
    name: 'second factor to set up: the policy requires one and the account has none',
    prompt: (e, f) => {
      if (!needsSecondStep(e, f) || hasSecondFactor(f.factors)) return null;
      return e.enrollChoice === 'totp' ? 'enroll-totp' : 'enroll';
    },
  },
  {
    name: 'second factor: the account has one (a passkey offered first)',
    prompt: (e, f) => {
      if (!needsSecondStep(e, f)) return null;
      return secondStepFor(e.secondChoice ?? (f.factors.passkeys > 0 ? 'passkey' : 'totp'), f);
    },
  },
  {
    name: 'recovery codes of a factor set up in this sign-in, shown once',
    prompt: (e) => (e.enrolled && !e.recoveryCodesKept ? 'recovery-codes' : null),
  },
  {
    name: 'password: expired or required (a passkey sign-in is told, not forced)',
    prompt: (e, f) => {
      if (e.passwordSettled) return null;
      const reason = passwordReason(f);
      if (reason !== 'expired' && reason !== 'required') return null;
      return passwordChangeForced(e, f) || e.changePasswordChosen ? 'change-password' : 'expiry-warning';
    },
  },
  {
    name: 'password: expires soon (warning, may be changed now)',
    prompt: (e, f) => {
      if (e.passwordSettled || passwordReason(f) !== 'expiring') return null;
      return e.changePasswordChosen ? 'change-password' : 'expiry-warning';
    },
  },
];

export type Next = { step: StepName; check: string } | { step: 'done' };

export function nextStep(e: Established, f: AccountFacts): Next {
  for (const check of CHECKS) {
    const step = check.prompt(e, f);
    if (step) return { step, check: check.name };
  }
  return { step: 'done' };
}

/**
 * The ID token's `amr` (RFC 8176) from the methods that passed in this sign-in: each method's values,
 * plus `mfa` when two factors were proven (a password and a second factor, or a passkey with user
 * verification on its own).
 */
export function amrOf(e: Established): Amr[] {
  const values = [...(e.first?.amr ?? []), ...(e.second?.amr ?? [])];
  const mfa = Boolean(e.first?.multiFactor || (e.first && e.second));
  return [...new Set([...values, ...(mfa ? (['mfa'] as const) : [])])];
}
