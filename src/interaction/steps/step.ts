import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { SignInFlow, StepName } from '../flow.js';
import type { ClientRecord } from '../../stores/sql/clients.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** What a step sees: the request, the provider's interaction, the flow and the client. */
export interface StepContext {
  ctx: Context;
  interaction: Interaction;
  flow: SignInFlow;
  client: ClientRecord | undefined;
}

/** A submit either shows the step again with errors, moves the flow on, or ends the interaction. */
export type StepOutcome =
  | { kind: 'again'; status: number; errors: string[]; values?: Record<string, string> }
  | { kind: 'authenticated'; accountId: string }
  | { kind: 'finish'; result: InteractionResults };

export interface Step {
  readonly name: StepName;
  render(s: StepContext, shown?: { status: number; errors: string[]; values?: Record<string, string> }): Promise<void>;
  submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome>;
}
