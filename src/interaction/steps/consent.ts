import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { AccountService } from '../../services/accounts.js';
import { OIDC_SCOPES } from '../../provider/scopes.js';
import { m, type Text } from '../../i18n/message.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

const SCOPE_LABELS: Record<string, Text> = {
  openid: m('Know who you are'),
  email: m('See your email address'),
  profile: m('See your name'),
  offline_access: m('Stay connected while you are away'),
};

/** The host the app's redirect goes to (validated by oidc-provider against the registered URIs). */
const hostOf = (uri: unknown): string | null => {
  try {
    return typeof uri === 'string' ? new URL(uri).host || null : null;
  } catch {
    return null;
  }
};

/** Consent for third-party clients; first-party clients get it granted without a page. */
export class ConsentStep implements Step {
  readonly name = 'consent' as const;

  constructor(
    private readonly provider: Provider,
    private readonly accounts: AccountService,
  ) {}

  async render(s: StepContext, shown: { status: number; errors: Text[] } = { status: 200, errors: [] }) {
    const details = s.interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const scopes = [
      ...(details.missingOIDCScope ?? []).map((sc) => SCOPE_LABELS[sc] ?? sc),
      ...Object.entries(details.missingResourceScopes ?? {}).flatMap(([resource, list]) =>
        list.map((sc) => m('{{scope}} at {{resource}}', { scope: sc, resource })),
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
        redirectHost: hostOf(s.interaction.params.redirect_uri),
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
    return { kind: 'again', status: 400, errors: [m('Choose Allow or Deny.')] };
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

  /**
   * A first-party client's consent, given with the login it follows, as a bare oidc-provider's one-POST
   * login does: the login's redirect then goes straight to the code, not through a consent interaction
   * (two fewer requests per sign-in). It grants the OpenID scopes the request asks for (oidc-provider's
   * own rule: the requested scopes it offers) in this account's grant for the client, or a new one. The
   * rest a request may ask for (claims, resource scopes) is not guessed here: oidc-provider still raises
   * its consent prompt for whatever is missing, and the router grants that without a page as before.
   */
  async grantWithLogin(s: StepContext, accountId: string): Promise<{ grantId: string } | undefined> {
    const scopes = String(s.interaction.params.scope ?? '')
      .split(' ')
      .filter((scope) => OIDC_SCOPES.includes(scope));
    if (!scopes.length) return undefined;
    const clientId = s.interaction.params.client_id as string;
    // The session's grant may belong to whoever was signed in before: only this account's own is extended.
    const existing = s.interaction.grantId ? await this.provider.Grant.find(s.interaction.grantId) : undefined;
    const grant = existing?.accountId === accountId && existing.clientId === clientId ? existing : new this.provider.Grant({ accountId, clientId });
    grant.addOIDCScope(scopes.join(' '));
    return { grantId: await grant.save() };
  }
}
