import type { Text } from '../../i18n/message.js';
import type { Method, SignInEvent } from '../sequence.js';
import type { Loaded, SignInFailure, StepContext } from '../steps/step.js';

/**
 * The verdict of one authentication method on what the user submitted: an event for the sequence
 * (with the account, for a first factor), or a refusal with the status, the sentence to show and the
 * reason for the audit trail.
 */
export type Verdict =
  | { ok: true; event: SignInEvent; accountId?: string; loaded?: Loaded }
  | { ok: false; status: number; error: Text; failure: SignInFailure; email?: string; accountId?: string };

/**
 * One authentication method (in the style of Ory Kratos' login strategies): it verifies its own kind
 * of input and says which factor passed, with its RFC 8176 `amr`. Steps are the pages that show one or
 * more strategies; a strategy with a ceremony registers its own routes (see strategies/passkey.ts).
 */
export interface Strategy<Input> {
  readonly method: Method;
  verify(s: StepContext, input: Input): Promise<Verdict>;
}

export const refused = (status: number, error: Text, failure: SignInFailure, extra: { email?: string; accountId?: string } = {}): Verdict => ({
  ok: false,
  status,
  error,
  failure,
  ...extra,
});
