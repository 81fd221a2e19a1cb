import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from 'pino';
import { describeRules } from '../policy/password-rules.js';
import type { Services } from '../services/index.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { requestInfo } from '../http/request-info.js';
import { str } from './steps/step.js';
import { FORM_EXPIRED, render } from './views.js';
import { m, type Text } from '../i18n/message.js';
import { newPasswordProblems, shownProblems } from './new-password.js';

export interface InvitationPagesDeps {
  services: Services;
  logger: Logger;
  trustedProxies: string[];
}

const BAD_LINK = m('This invitation link is invalid, has expired or was already used. Ask your administrator for a new one.');

/**
 * The page an invitation link opens (/invitation?token=…): the invited user chooses a first password
 * under the policy that governs the address, which also confirms the email. CSRF-protected like the
 * other password pages; the token travels in a hidden field, never in a cookie.
 */
export function invitationPages(deps: InvitationPagesDeps): Router {
  const { services } = deps;
  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });

  async function rulesFor(account: AccountRecord) {
    return describeRules((await services.policies.effectiveFor(account)).policy.password);
  }

  router.get('/invitation', async (ctx) => {
    const token = str(ctx.query.token);
    const account = await services.invitations.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    await render(ctx, 'invitation', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors: [], done: false });
  });

  router.post('/invitation', parseForm, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const token = str(form.token);
    const account = await services.invitations.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    const page = async (errors: Text[], status: number) =>
      render(ctx, 'invitation', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors, done: false }, status);
    if (!csrfValid(ctx, form.csrf)) return page([FORM_EXPIRED], 403);
    const newPassword = str(form.newPassword);
    const problems = await newPasswordProblems(services, account, newPassword, str(form.confirmPassword), m('Enter a password.'));
    if (problems) return page(problems, 400);
    const result = await services.invitations.accept(token, newPassword, requestInfo(ctx, deps.trustedProxies));
    if (!result.ok && 'invalidLink' in result) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    if (!result.ok) return page(shownProblems(result.errors), 400);
    // Accepting does not sign the user in: they sign in through their application.
    await render(ctx, 'invitation', { csrf: csrfToken(ctx), token: '', email: account.email, rules: [], errors: [], done: true });
  });

  return router;
}
