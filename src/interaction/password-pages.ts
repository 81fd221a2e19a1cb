import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { describeRules, passwordExpiresAt } from '../policy/password-rules.js';
import type { Services } from '../services/index.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { requestInfo } from '../http/request-info.js';
import { whitelistAllows } from '../policy/ip.js';
import { NETWORK_NOT_ALLOWED } from './steps/password.js';
import { str } from './steps/step.js';
import { render } from './views.js';
import { accountPasskeyRoutes, DONE, passkeyViews, recentlyAuthenticated } from './account-passkeys.js';
import type { PasskeyFactor } from '../stores/factors.js';

export interface PasswordPagesDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
}

const FORM_EXPIRED = 'This form has expired. Please try again.';
const BAD_LINK = 'This link is invalid, has expired or was already used. Ask for a new one.';
const date = (s: number | null) => (s === null ? null : new Date(s * 1000).toUTCString());

/**
 * Pages for passwords outside a sign-in: forgot password (/password/forgot), the emailed reset link
 * (/password/reset) and the signed-in user's account page (/account), which uses the Gatehouse browser
 * session. Every form carries a CSRF token.
 */
export function passwordPages(deps: PasswordPagesDeps): Router {
  const { services } = deps;
  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });

  async function rulesFor(account: AccountRecord) {
    return describeRules((await services.policies.effectiveFor(account)).policy.password);
  }

  router.get('/password/forgot', async (ctx) => {
    await render(ctx, 'forgot', { csrf: csrfToken(ctx), sent: false, email: '', errors: [] });
  });

  router.post('/password/forgot', parseForm, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const email = str(form.email).trim();
    const csrf = csrfToken(ctx);
    if (!csrfValid(ctx, form.csrf)) return render(ctx, 'forgot', { csrf, sent: false, email, errors: [FORM_EXPIRED] }, 403);
    if (!email) return render(ctx, 'forgot', { csrf, sent: false, email, errors: ['Enter your email address.'] }, 400);
    const request = requestInfo(ctx, deps.trustedProxies);
    if (!(await services.passwordResets.allowAddress(request.ip))) {
      return render(ctx, 'forgot', { csrf, sent: false, email, errors: ['Too many requests from your network. Try again later.'] }, 429);
    }
    // The same answer, at once, whether or not the address has an account: the lookup and the mail happen afterwards.
    setImmediate(() => {
      services.passwordResets.request(email, request).catch((err) => deps.logger.error({ err }, 'password reset request failed'));
    });
    await render(ctx, 'forgot', { csrf, sent: true, email, errors: [] });
  });

  router.get('/password/reset', async (ctx) => {
    const token = str(ctx.query.token);
    const account = await services.passwordResets.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null }, 400);
    await render(ctx, 'reset', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors: [], done: false });
  });

  router.post('/password/reset', parseForm, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const token = str(form.token);
    const account = await services.passwordResets.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null }, 400);
    const page = async (errors: string[], status: number) =>
      render(ctx, 'reset', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors, done: false }, status);
    if (!csrfValid(ctx, form.csrf)) return page([FORM_EXPIRED], 403);
    const newPassword = str(form.newPassword);
    if (!newPassword) return page(['Enter a new password.'], 400);
    if (newPassword !== str(form.confirmPassword)) return page(['The two passwords do not match.'], 400);
    const result = await services.passwordResets.complete(token, newPassword, requestInfo(ctx, deps.trustedProxies));
    if (!result.ok && 'invalidLink' in result) return render(ctx, 'error', { message: BAD_LINK, code: null }, 400);
    if (!result.ok) return page(result.errors.map((e) => e.message), 400);
    // The reset does not sign the user in: they sign in again through their application.
    await render(ctx, 'reset', { csrf: csrfToken(ctx), token: '', email: account.email, rules: [], errors: [], done: true });
  });

  async function signedInAccount(ctx: Context) {
    const session = await deps.provider.Session.get(ctx as never);
    const account = session.accountId ? await services.accounts.findById(session.accountId) : undefined;
    return account?.status === 'active' ? { session, account } : undefined;
  }

  async function accountPage(ctx: Context, account: AccountRecord, extra: { errors?: string[]; methodErrors?: string[]; notice?: string; codes?: string[] } = {}, status = 200) {
    const { policy, source } = await services.policies.effectiveFor(account);
    const signedIn = await signedInAccount(ctx);
    const [factors, recent] = await Promise.all([services.twoFactor.list(account.id), signedIn ? recentlyAuthenticated(services, signedIn) : false]);
    await render(
      ctx,
      'account',
      {
        csrf: csrfToken(ctx),
        email: account.email,
        name: account.name,
        changedAt: date(account.passwordChangedAt),
        expiresAt: date(passwordExpiresAt(policy.password, account.passwordChangedAt)),
        governedBy: source === 'organization' ? 'your organization' : 'Gatehouse defaults',
        rules: describeRules(policy.password),
        errors: extra.errors ?? [],
        notice: extra.notice ?? null,
        passkeys: passkeyViews(factors.filter((f): f is PasskeyFactor => f.kind === 'passkey')),
        totp: factors.some((f) => f.kind === 'totp'),
        // The policy requires a factor and this is the only one: removal is refused, so not offered.
        lastFactorKept: policy.authentication.enforce2fa && factors.length <= 1,
        methodErrors: extra.methodErrors ?? [],
        recent,
        codes: extra.codes ?? [],
        date,
      },
      status,
    );
  }

  /**
   * The account pages are a place the user's own device talks to: the IP whitelist of the signed-in
   * account's policy holds there, for every /account page and form, before any handler runs. The session
   * is left as it is, to be used again from an allowed network.
   */
  async function accountPagesOnAllowedNetwork(ctx: Context, next: Next) {
    const signedIn = await signedInAccount(ctx);
    if (signedIn) {
      const governing = await services.policies.effectiveFor(signedIn.account);
      const request = requestInfo(ctx, deps.trustedProxies);
      if (!whitelistAllows(governing.policy.login.ipWhitelist, request.ip)) {
        await services.audit.record('account_page.refused', {
          actor: { type: 'user', id: signedIn.account.id },
          organizationId: governing.organizationId,
          target: { type: 'user', id: signedIn.account.id },
          request,
          data: { path: ctx.path, reason: 'ip-not-allowed' },
        });
        return render(ctx, 'error', { message: NETWORK_NOT_ALLOWED, code: null }, 403);
      }
    }
    await next();
  }
  router.use(/^\/account(?:\/|$)/, accountPagesOnAllowedNetwork);

  router.get('/account', async (ctx) => {
    const signedIn = await signedInAccount(ctx);
    if (!signedIn) return render(ctx, 'error', { message: 'You are not signed in to Gatehouse. Sign in through your application, then come back to this page.', code: null }, 401);
    const done = DONE[str(ctx.query.done) as keyof typeof DONE];
    await accountPage(ctx, signedIn.account, { notice: ctx.query.changed === '1' ? 'Your password was changed. You were signed out everywhere else.' : done });
  });

  router.post('/account/password', parseForm, async (ctx) => {
    const signedIn = await signedInAccount(ctx);
    if (!signedIn) return render(ctx, 'error', { message: 'You are not signed in to Gatehouse.', code: null }, 401);
    const { account, session } = signedIn;
    const form = ctx.request.body as Record<string, unknown>;
    if (!csrfValid(ctx, form.csrf)) return accountPage(ctx, account, { errors: [FORM_EXPIRED] }, 403);
    const newPassword = str(form.newPassword);
    if (!str(form.currentPassword) || !newPassword) return accountPage(ctx, account, { errors: ['Enter your current and your new password.'] }, 400);
    if (newPassword !== str(form.confirmPassword)) return accountPage(ctx, account, { errors: ['The two new passwords do not match.'] }, 400);
    const result = await services.passwordChanges.change({
      account,
      newPassword,
      currentPassword: str(form.currentPassword),
      kind: 'self',
      actor: { type: 'user', id: account.id },
      request: requestInfo(ctx, deps.trustedProxies),
      keepSessionId: session.jti,
    });
    if (!result.ok) return accountPage(ctx, account, { errors: result.errors.map((e) => e.message) }, result.locked ? 429 : 400);
    ctx.redirect('/account?changed=1');
    ctx.status = 303;
  });

  accountPasskeyRoutes(router, { services, trustedProxies: deps.trustedProxies, parseForm, signedInAccount, accountPage });

  return router;
}
