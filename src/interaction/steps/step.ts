import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { SignInFlow, StepName } from '../flow.js';
import type { ClientRecord } from '../../stores/sql/clients.js';
import type { RequestInfo } from '../../services/audit.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** What a step sees: the request, the provider's interaction, the flow and the client. */
export interface StepContext {
  ctx: Context;
  interaction: Interaction;
  flow: SignInFlow;
  client: ClientRecord | undefined;
  request: RequestInfo;
}

/**
 * What a submit leads to: the same step again with errors; the first factor passed (the router decides
 * what comes next); another step; the sign-in complete; or the interaction ended with a result.
 */
export type StepOutcome =
  | { kind: 'again'; status: number; errors: string[]; values?: Record<string, string>; failure?: SignInFailure }
  | { kind: 'authenticated'; accountId: string }
  | { kind: 'second-factor-passed' }
  | { kind: 'page'; flow: SignInFlow; view: string; data: Record<string, unknown> }
  | { kind: 'next'; flow: SignInFlow }
  | { kind: 'signed-in' }
  | { kind: 'finish'; result: InteractionResults };

/** Why a sign-in attempt failed, for the audit trail. */
export type SignInFailure = 'invalid' | 'locked' | 'ip-not-allowed' | 'invalid-second-factor' | 'enrollment-superseded';

export interface Step {
  readonly name: StepName;
  render(s: StepContext, shown?: { status: number; errors: string[]; values?: Record<string, string> }): Promise<void>;
  submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome>;
}
