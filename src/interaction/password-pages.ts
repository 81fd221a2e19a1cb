import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { describeRules } from '../policy/password-rules.js';
import type { Services } from '../services/index.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { requestInfo } from '../http/request-info.js';
import { str } from './steps/step.js';
import { render } from './views.js';

export interface PasswordPagesDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
}

const FORM_EXPIRED = 'This form has expired. Please try again.';
const BAD_LINK = 'This link is invalid, has expired or was already used. Ask for a new one.';

/**
 * Pages for passwords outside a sign-in: forgot password (/password/forgot) and the emailed reset link
 * (/password/reset). Every form carries a CSRF token. The account pages are in ./account/.
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

  return router;
}
