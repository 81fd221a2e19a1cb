import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { AccountService } from '../../services/accounts.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

const SCOPE_LABELS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name',
  offline_access: 'Stay connected while you are away',
};

/** Consent for third-party clients; first-party clients get it granted without a page. */
export class ConsentStep implements Step {
  readonly name = 'consent' as const;

  constructor(
    private readonly provider: Provider,
    private readonly accounts: AccountService,
  ) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[] }) {
    const details = s.interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const scopes = [
      ...(details.missingOIDCScope ?? []).map((sc) => SCOPE_LABELS[sc] ?? sc),
      ...Object.entries(details.missingResourceScopes ?? {}).flatMap(([resource, list]) =>
        list.map((sc) => `${sc} at ${resource}`),
      ),
    ];
    const accountId = s.interaction.session?.accountId;
    const account = accountId ? await this.accounts.findById(accountId) : undefined;
    await render(
      s.ctx,
      'consent',
      {
        uid: s.flow.uid,
        csrf: s.flow.csrf,
        clientName: s.client?.clientName ?? (s.interaction.params.client_id as string),
        email: account?.email ?? null,
        scopes,
        errors: shown.errors,
      },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    if (form.decision === 'allow') return { kind: 'finish', result: await this.grant(s) };
    if (form.decision === 'deny') {
      return { kind: 'finish', result: { error: 'access_denied', error_description: 'End-User denied consent' } };
    }
    return { kind: 'again', status: 400, errors: ['Choose Allow or Deny.'] };
  }

  /** Grants everything the request is missing, in the existing grant or a new one. */
  async grant(s: StepContext): Promise<InteractionResults> {
    const { interaction } = s;
    const details = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = interaction.grantId
      ? await this.provider.Grant.find(interaction.grantId)
      : new this.provider.Grant({
          accountId: interaction.session!.accountId,
          clientId: interaction.params.client_id as string,
        });
    if (!grant) throw new Error('grant of the interaction is gone');
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return { consent: { grantId } };
  }
}
