import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors as oidcErrors, type InteractionResults } from 'oidc-provider';
import type { Logger } from 'pino';
import { passwordExpiresAt } from '../policy/password-rules.js';
import { normalizeEmail } from '../services/accounts.js';
import type { Services } from '../services/index.js';
import { secondFactorRequired } from '../policy/second-factor.js';
import { hasSecondFactor } from '../stores/factors.js';
import type { EffectivePolicy } from '../policy/effective-policy.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { nowSeconds } from '../stores/db.js';
import { requestInfo } from '../http/request-info.js';
import { whitelistAllows } from '../policy/ip.js';
import { csrfMatches, type FlowStore, type SignInFlow, type StepName } from './flow.js';
import { ChangePasswordStep } from './steps/change-password.js';
import { ConsentStep } from './steps/consent.js';
import { ExpiryWarningStep } from './steps/expiry-warning.js';
import { NETWORK_NOT_ALLOWED, PasswordStep } from './steps/password.js';
import { TotpStep } from './steps/totp.js';
import { EnrollTotpStep, RecoveryCodesStep } from './steps/enroll-totp.js';
import type { SignInFailure, Step, StepContext } from './steps/step.js';
import { render } from './views.js';

export interface InteractionDeps {
  provider: Provider;
  flows: FlowStore;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
  /** Days before expiry that the sign-in shows a warning. */
  expiryWarningDays: number;
}

interface Known {
  account: AccountRecord;
  effective: EffectivePolicy;
}

const EXPIRED =
  'This sign-in has expired or was started in another browser. Go back to the application and sign in again.';

/**
 * The sign-in pages. GET /interaction/:uid shows the flow's current step; POST /interaction/:uid/:step
 * submits it. Every POST is checked against the flow's step and CSRF token before the step sees it.
 * The flow: password → (change-password | expiry-warning)? → signed in → consent (third-party clients).
 */
export function interactionRouter(deps: InteractionDeps): Router {
  const { provider, flows, services } = deps;
  const consent = new ConsentStep(provider, services.accounts);
  const steps: Record<StepName, Step> = {
    password: new PasswordStep(services),
    totp: new TotpStep(services),
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
        await render(ctx, 'error', { message: EXPIRED, code: null }, 400);
        return undefined;
      }
      throw err;
    }
    if (interaction.uid !== ctx.params.uid) {
      await render(ctx, 'error', { message: EXPIRED, code: null }, 400);
      return undefined;
    }
    const first: StepName = interaction.prompt.name === 'login' ? 'password' : 'consent';
    const flow = (await flows.load(interaction.uid)) ?? (await flows.start(interaction.uid, first));
    const client = await services.clients.find(interaction.params.client_id as string);
    const s: StepContext = { ctx, interaction, flow, client, request: requestInfo(ctx, deps.trustedProxies) };
    return (await outsideWhitelist(s)) ? undefined : s;
  }

  /**
   * Every step after the password (second factor, enrollment, forced change, consent) is a page the
   * user's device talks to, so the whitelist of the account's policy holds there too: a whitelist that
   * changed, or a device that moved, since the password step is refused with a page. The password step
   * checks the address itself, for the account of the email typed.
   */
  async function outsideWhitelist(s: StepContext): Promise<boolean> {
    const accountId = s.flow.step === 'password' ? undefined : (s.flow.accountId ?? s.interaction.session?.accountId);
    const account = accountId ? await services.accounts.findById(accountId) : undefined;
    if (!account) return false;
    const governing = await services.policies.effectiveFor(account);
    if (whitelistAllows(governing.policy.login.ipWhitelist, s.request.ip)) return false;
    await auditSignIn(s, 'failed', account.email, { accountId: account.id, reason: 'ip-not-allowed', governing });
    await render(s.ctx, 'error', { message: NETWORK_NOT_ALLOWED, code: null }, 403);
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

  /** Ends the interaction. Consent merges with the login result it follows; a login starts afresh. */
  async function finish(s: StepContext, result: InteractionResults) {
    const merge = result.consent !== undefined;
    const target = await provider.interactionResult(s.ctx.req, s.ctx.res, result, { mergeWithLastSubmission: merge });
    await flows.end(s.flow.uid);
    s.ctx.redirect(target);
    s.ctx.status = 303;
  }

  async function goTo(s: StepContext, flow: SignInFlow) {
    await flows.save(flow);
    s.ctx.redirect(`/interaction/${flow.uid}`);
    s.ctx.status = 303;
  }

  /** The signed-in account and the policy that governs it, read once per step and handed along. */
  async function known(accountId: string): Promise<Known> {
    const account = await services.accounts.get(accountId);
    return { account, effective: await services.policies.effectiveFor(account) };
  }

  async function signedIn(s: StepContext, k?: Known) {
    const { account, effective } = k ?? (await known(s.flow.accountId!));
    await auditSignIn(s, 'succeeded', account.email, { accountId: account.id, governing: effective });
    const amr = s.flow.secondFactorDone && hasSecondFactor(await services.twoFactor.enrolled(account.id)) ? ['pwd', 'otp', 'mfa'] : ['pwd'];
    // session.expireCookieOnBrowserClose: a browser-session cookie, with no Expires or Max-Age.
    await finish(s, { login: { accountId: account.id, amr, remember: !effective.policy.session.expireCookieOnBrowserClose } });
  }

  /** After the password: the second factor (or its enrollment) when needed, before anything else. */
  async function afterPassword(s: StepContext, accountId: string) {
    const k = await known(accountId);
    const flow: SignInFlow = { ...s.flow, accountId };
    const enrolled = await services.twoFactor.enrolled(accountId);
    if (!secondFactorRequired(enrolled, k.effective.policy)) return afterSecondFactor({ ...s, flow }, k);
    if (hasSecondFactor(enrolled)) return goTo(s, { ...flow, step: 'totp' });
    const enrollment = await services.twoFactor.startEnrollment(k.account);
    return goTo(s, { ...flow, step: 'enroll-totp', pendingTotp: enrollment.sealed });
  }

  /** After both factors: a forced password change, an expiry warning, or done. */
  async function afterSecondFactor(s: StepContext, k?: Known) {
    const { account, effective } = k ?? (await known(s.flow.accountId!));
    const expiresAt = passwordExpiresAt(effective.policy.password, account.passwordChangedAt);
    const now = nowSeconds();
    const flow: SignInFlow = { ...s.flow, secondFactorDone: true };
    if (account.mustChangePassword || (expiresAt !== null && expiresAt <= now)) {
      await goTo(s, { ...flow, step: 'change-password', passwordReason: account.mustChangePassword ? 'required' : 'expired' });
    } else if (expiresAt !== null && expiresAt - deps.expiryWarningDays * 86400 <= now) {
      await goTo(s, { ...flow, step: 'expiry-warning', passwordExpiresAt: expiresAt });
    } else {
      await signedIn({ ...s, flow }, { account, effective });
    }
  }

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
      await steps[s.flow.step].render(s, { status: 403, errors: ['This form has expired. Please try again.'] });
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
        if (outcome.failure) await auditSignIn(s, 'failed', outcome.values?.email ?? '', { reason: outcome.failure });
        await step.render(s, outcome);
        return;
      case 'authenticated':
        await afterPassword(s, outcome.accountId);
        return;
      case 'next':
        await goTo(s, outcome.flow);
        return;
      case 'second-factor-passed':
        await afterSecondFactor(s);
        return;
      case 'page':
        await flows.save(outcome.flow);
        await render(ctx, outcome.view, outcome.data);
        return;
      case 'signed-in':
        await signedIn(s);
        return;
      case 'finish':
        await finish(s, outcome.result);
    }
  });

  return router;
}
