import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors as oidcErrors, type InteractionResults } from 'oidc-provider';
import type { Logger } from 'pino';
import { passwordExpiresAt } from '../policy/password-rules.js';
import { normalizeEmail } from '../services/accounts.js';
import type { Services } from '../services/index.js';
import type { EffectivePolicy } from '../policy/effective-policy.js';
import { nowSeconds } from '../stores/db.js';
import { requestInfo } from '../http/request-info.js';
import { whitelistAllows } from '../policy/ip.js';
import { csrfMatches, type FlowStore, type SignInFlow, type StepName } from './flow.js';
import { amrOf, nextStep, record } from './sequence.js';
import { ChangePasswordStep } from './steps/change-password.js';
import { ConsentStep } from './steps/consent.js';
import { ExpiryWarningStep } from './steps/expiry-warning.js';
import { NETWORK_NOT_ALLOWED, PasswordStep } from './steps/password.js';
import { RecoveryCodeStep, TotpStep } from './steps/second-factor.js';
import { PasskeyStep } from './steps/passkey.js';
import { PasskeyStrategy } from './strategies/passkey.js';
import { EnrollStep, EnrollTotpStep, RecoveryCodesStep } from './steps/enroll-totp.js';
import type { Known, Loaded, SignInFailure, Step, StepContext, StepOutcome } from './steps/step.js';
import { FORM_EXPIRED, render } from './views.js';
import { m, useUiLocales } from '../i18n/index.js';

export interface InteractionDeps {
  provider: Provider;
  flows: FlowStore;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
  /** Days before expiry that the sign-in shows a warning. */
  expiryWarningDays: number;
}

// Says where to go itself: the error page's generic "go back" line is left out (hint: false).
const EXPIRED = m('This sign-in has expired or was started in another browser. Go back to the application and sign in again.');
const CLIENT_CHANGED = m('This application\'s sign-in settings changed while you were signing in. Go back to the application and sign in again.');

/**
 * The sign-in pages. GET /interaction/:uid shows the flow's current step; POST /interaction/:uid/:step
 * submits it. Every POST is checked against the flow's step and CSRF token before the step sees it.
 * A step reports an event; sequence.ts records it and names the next step (or the end of the sign-in).
 * The account, its policy and its factors are loaded once per request and handed along (`Known`).
 */
export function interactionRouter(deps: InteractionDeps): Router {
  const { provider, flows, services } = deps;
  const consent = new ConsentStep(provider, services.accounts);
  const passkey = new PasskeyStrategy(services);
  const steps: Record<StepName, Step> = {
    password: new PasswordStep(services, passkey),
    passkey: new PasskeyStep(passkey),
    totp: new TotpStep(services),
    'recovery-code': new RecoveryCodeStep(services),
    enroll: new EnrollStep(services),
    'enroll-totp': new EnrollTotpStep(services),
    'recovery-codes': new RecoveryCodesStep(),
    'change-password': new ChangePasswordStep(services),
    'expiry-warning': new ExpiryWarningStep(),
    consent,
  };
  const router = new Router({ prefix: '/interaction' });
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });

  async function load(ctx: Context): Promise<StepContext | undefined> {
    let interaction;
    try {
      interaction = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof oidcErrors.SessionNotFound) {
        await render(ctx, 'error', { message: EXPIRED, code: null, hint: false }, 400);
        return undefined;
      }
      throw err;
    }
    useUiLocales(ctx, interaction.params.ui_locales);
    if (interaction.uid !== ctx.params.uid) {
      await render(ctx, 'error', { message: EXPIRED, code: null, hint: false }, 400);
      return undefined;
    }
    const first: StepName = interaction.prompt.name === 'login' ? 'password' : 'consent';
    const flow = (await flows.load(interaction.uid)) ?? (await flows.start(interaction.uid, first));
    const client = await services.clients.find(interaction.params.client_id as string);
    // The sign-in page establishes who signs in; every later step (and consent) works for a known account.
    const accountId = flow.step === 'password' ? undefined : (flow.accountId ?? interaction.session?.accountId);
    const known = accountId ? await knownFor(accountId) : undefined;
    const s: StepContext = { ctx, interaction, flow, client, request: requestInfo(ctx, deps.trustedProxies), known };
    return (await outsideWhitelist(s)) ? undefined : s;
  }

  /**
   * The account, its governing policy and its factors, read fresh (once per request). `loaded`: the
   * policy and factors a first factor already read for this account in this request.
   */
  async function knownFor(accountId: string, loaded?: Loaded): Promise<Known | undefined> {
    const account = await services.accounts.findById(accountId);
    if (!account) return undefined;
    const [effective, factors] = loaded
      ? [loaded.effective, loaded.factors]
      : await Promise.all([services.policies.effectiveFor(account), services.twoFactor.enrolled(account.id)]);
    return {
      account,
      effective,
      factors,
      facts: {
        factors,
        enforce2fa: effective.policy.authentication.enforce2fa,
        mustChangePassword: account.mustChangePassword,
        passwordExpiresAt: passwordExpiresAt(effective.policy.password, account.passwordChangedAt),
        now: nowSeconds(),
        warningDays: deps.expiryWarningDays,
      },
    };
  }

  /**
   * Every step after the password (second factor, enrollment, forced change, consent) is a page the
   * user's device talks to, so the whitelist of the account's policy holds there too: a whitelist that
   * changed, or a device that moved, since the password step is refused with a page. The password step
   * checks the address itself, for the account of the email typed.
   */
  async function outsideWhitelist(s: StepContext): Promise<boolean> {
    if (s.flow.step === 'password' || !s.known) return false;
    const { account, effective: governing } = s.known;
    if (whitelistAllows(governing.policy.login.ipWhitelist, s.request.ip)) return false;
    await auditSignIn(s, 'failed', account.email, { accountId: account.id, reason: 'ip-not-allowed', governing });
    await render(s.ctx, 'error', { message: NETWORK_NOT_ALLOWED, code: null, hint: false }, 403);
    return true;
  }

  /**
   * Sign-in outcomes go to the audit trail of the organization whose policy governs the address
   * (`governing`, when the caller already knows it).
   */
  async function auditSignIn(
    s: StepContext,
    outcome: 'succeeded' | 'failed',
    email: string,
    extra: { accountId?: string; reason?: SignInFailure; governing?: EffectivePolicy } = {},
  ) {
    const normalized = normalizeEmail(email);
    const governing = extra.governing ?? (normalized ? await services.policies.effectiveFor({ email: normalized }) : undefined);
    const { accountId, reason } = extra;
    await services.audit.record(`sign_in.${outcome}`, {
      actor: accountId ? { type: 'user', id: accountId } : { type: 'anonymous' },
      organizationId: governing?.organizationId ?? null,
      target: accountId ? { type: 'user', id: accountId } : undefined,
      request: s.request,
      data: { email: normalized ?? email.slice(0, 320), clientId: s.interaction.params.client_id as string, ...(reason ? { reason } : {}) },
    });
  }

  /**
   * Ends the interaction. Consent alone merges with the login result it follows; a login starts afresh.
   * oidc-provider checked the client and its redirect URI when the sign-in began, not when it resumes:
   * a client deleted, or a redirect URI removed from its registration, since then gets nothing (no code,
   * no error) at that address.
   */
  async function finish(s: StepContext, result: InteractionResults) {
    const client = await provider.Client.find(String(s.interaction.params.client_id));
    const redirectUri = s.interaction.params.redirect_uri;
    if (!client || (typeof redirectUri === 'string' && !client.redirectUriAllowed(redirectUri))) {
      await flows.end(s.flow.uid);
      await render(s.ctx, 'error', { message: CLIENT_CHANGED, code: null, hint: false }, 400);
      return;
    }
    const merge = result.login === undefined && result.consent !== undefined;
    const target = await provider.interactionResult(s.ctx.req, s.ctx.res, result, { mergeWithLastSubmission: merge });
    await flows.end(s.flow.uid);
    s.ctx.redirect(target);
    s.ctx.status = 303;
  }

  /**
   * Records a step's event, asks the sequence for the next step, and shows it (after a redirect, or in
   * this answer when the outcome hands data to show once) or ends the login.
   */
  async function advance(s: StepContext, outcome: Extract<StepOutcome, { kind: 'event' }>) {
    let known = s.known;
    if (outcome.accountId) known = await knownFor(outcome.accountId, outcome.loaded);
    // An enrollment changed the account's factors: read them again.
    else if (outcome.event.type === 'enrolled' && known) known = await knownFor(known.account.id);
    if (!known) throw new Error('a sign-in event without an account');
    const established = record(s.flow.established, outcome.event);
    const next = nextStep(established, known.facts);
    const flow: SignInFlow = { ...s.flow, accountId: known.account.id, established };
    // A first factor starts the rest afresh: nothing prepared for an earlier attempt carries over.
    if (outcome.event.type === 'first-factor') Object.assign(flow, { pendingTotp: undefined, enrollGeneration: undefined });
    if (next.step === 'done') return signedIn({ ...s, flow, known });
    const moved: StepContext = { ...s, known, flow: { ...flow, step: next.step } };
    const step = steps[next.step];
    moved.flow = step.enter ? await step.enter(moved, moved.flow) : moved.flow;
    await flows.save(moved.flow);
    if (outcome.show) return step.render(moved, { status: 200, errors: [], data: outcome.show });
    s.ctx.redirect(`/interaction/${flow.uid}`);
    s.ctx.status = 303;
  }

  async function signedIn(s: StepContext & { known: Known }) {
    const { account, effective } = s.known;
    await auditSignIn(s, 'succeeded', account.email, { accountId: account.id, governing: effective });
    await services.accounts.signedInWith(account, s.request.locale); // the language of the account's mails
    // A first-party client's consent comes with the login (see ConsentStep.grantWithLogin).
    const consentGiven = s.client?.firstParty ? await consent.grantWithLogin(s, account.id) : undefined;
    // session.expireCookieOnBrowserClose: a browser-session cookie, with no Expires or Max-Age.
    await finish(s, {
      login: { accountId: account.id, amr: amrOf(s.flow.established), remember: !effective.policy.session.expireCookieOnBrowserClose },
      ...(consentGiven ? { consent: consentGiven } : {}),
    });
  }

  // Strategies with a ceremony register their own endpoints.
  passkey.routes(router, load, parseForm);

  router.get('/:uid', async (ctx) => {
    const s = await load(ctx);
    if (!s) return;
    if (s.flow.step === 'consent' && s.client?.firstParty) {
      await finish(s, await consent.grant(s));
      return;
    }
    await steps[s.flow.step].render(s);
  });

  router.post('/:uid/:step', parseForm, async (ctx) => {
    const s = await load(ctx);
    if (!s) return;
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrfMatches(s.flow, form.csrf)) {
      await steps[s.flow.step].render(s, { status: 403, errors: [FORM_EXPIRED] });
      return;
    }
    if (ctx.params.step === 'abort') {
      await finish(s, { error: 'access_denied', error_description: 'End-User aborted interaction' });
      return;
    }
    if (ctx.params.step !== s.flow.step) {
      ctx.redirect(`/interaction/${s.flow.uid}`);
      ctx.status = 303;
      return;
    }
    const step = steps[s.flow.step];
    const outcome = await step.submit(s, form);
    switch (outcome.kind) {
      case 'again':
        if (outcome.failure) await auditSignIn(s, 'failed', outcome.auditEmail ?? outcome.values?.email ?? '', { reason: outcome.failure, accountId: outcome.accountId });
        await step.render(s, outcome);
        return;
      case 'event':
        await advance(s, outcome);
        return;
      case 'finish':
        await finish(s, outcome.result);
    }
  });

  return router;
}
