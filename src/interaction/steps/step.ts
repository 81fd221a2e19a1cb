import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { SignInFlow, StepName } from '../flow.js';
import type { AccountFacts, SignInEvent } from '../sequence.js';
import type { ClientRecord } from '../../stores/sql/clients.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import type { EffectivePolicy } from '../../policy/effective-policy.js';
import type { EnrolledFactors } from '../../stores/factors.js';
import type { RequestInfo } from '../../services/audit.js';
import type { Text } from '../../i18n/message.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The account signing in, the policy that governs it and its factors: loaded once per request, when
 * the flow knows the account (after the first factor), and handed to the step and the sequence.
 */
export interface Known {
  account: AccountRecord;
  effective: EffectivePolicy;
  factors: EnrolledFactors;
  /** What the sequence needs, derived from the three above. */
  facts: AccountFacts;
}

/** The policy and factors a first factor read for its account in this request (not read again for `Known`). */
export type Loaded = Pick<Known, 'effective' | 'factors'>;

/** What a step sees: the request, the provider's interaction, the flow, the client and the account. */
export interface StepContext {
  ctx: Context;
  interaction: Interaction;
  flow: SignInFlow;
  client: ClientRecord | undefined;
  request: RequestInfo;
  /** Set once the flow knows who is signing in. */
  known?: Known;
}

/**
 * What a submit leads to: the same step again with errors; an event for the sequence to record (the
 * router then asks sequence.ts for the next page; the step never picks it); or the interaction ended.
 * `accountId` comes with a first-factor event (and `loaded`, what it read of that account in this
 * request); `show` is data for the next page, shown once in this answer and never stored (recovery codes).
 */
export type StepOutcome =
  | {
      kind: 'again';
      status: number;
      errors: Text[];
      values?: Record<string, string>;
      failure?: SignInFailure;
      accountId?: string;
      /** The address for the audit trail when it is not shown back on the page (`values.email`). */
      auditEmail?: string;
    }
  | { kind: 'event'; event: SignInEvent; accountId?: string; loaded?: Loaded; show?: Record<string, unknown> }
  | { kind: 'finish'; result: InteractionResults };

/** Why a sign-in attempt failed, for the audit trail. */
export type SignInFailure =
  | 'invalid'
  | 'locked'
  | 'ip-not-allowed'
  | 'invalid-second-factor'
  | 'enrollment-superseded'
  | 'passkey-refused'
  | 'passkey-cloned';

export interface Shown {
  status: number;
  errors: Text[];
  values?: Record<string, string>;
  /** Data handed over by the previous step's outcome (`show`). */
  data?: Record<string, unknown>;
}

export interface Step {
  readonly name: StepName;
  render(s: StepContext, shown?: Shown): Promise<void>;
  submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome>;
  /** Prepares the flow when the sequence moves into this step (say, a new TOTP seed to enroll). */
  enter?(s: StepContext, flow: SignInFlow): Promise<SignInFlow>;
}

export const str = (v: unknown) => (typeof v === 'string' ? v : '');
