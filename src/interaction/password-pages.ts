import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { m, type Text } from '../i18n/message.js';
import { describeRules } from '../policy/password-rules.js';
import type { Services } from '../services/index.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import { csrfToken, csrfValid } from '../http/csrf.js';
import { requestInfo } from '../http/request-info.js';
import { newPasswordProblems, shownProblems } from './new-password.js';
import { str } from './steps/step.js';
import { FORM_EXPIRED, render } from './views.js';

export interface PasswordPagesDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  trustedProxies: string[];
}

const BAD_LINK = m('This link is invalid, has expired or was already used. Ask for a new one.');

/**
 * The sign-in a forgot-password request came from: an oidc-provider interaction uid (nanoid-shaped),
 * nothing else. Only ever turned into the same-origin path /interaction/<uid>, so a forged value
 * leads at worst to Gatehouse's "this sign-in has expired" page, never elsewhere.
 */
export const interactionUid = (value: unknown): string | null => (typeof value === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(value) ? value : null);

/**
 * The forgot-password request remembers, in this browser only, the sign-in it came from: the reset
 * link (opened from the mail, often in a new tab of the same browser) can then offer to continue it.
 * Not in the mail link: an interaction is bound to the browser that started it, so carrying it
 * further would only leak it. HttpOnly, SameSite=Lax, only sent to /password/, one hour.
 */
const SIGN_IN_COOKIE = 'gh_signin';

/**
 * Pages for passwords outside a sign-in: forgot password (/password/forgot) and the emailed reset link
 * (/password/reset). Every form carries a CSRF token. The account pages are in ./account/.
 */
export function passwordPages(deps: PasswordPagesDeps): Router {
  const { services, provider } = deps;
  const router = new Router();
  const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });

  async function rulesFor(account: AccountRecord) {
    return describeRules((await services.policies.effectiveFor(account)).policy.password);
  }

  /** The sign-in to continue after a reset: the one this browser asked from, if it is still going on. */
  async function signInToContinue(ctx: Context): Promise<string | null> {
    const uid = interactionUid(ctx.cookies.get(SIGN_IN_COOKIE));
    if (!uid) return null;
    ctx.cookies.set(SIGN_IN_COOKIE, null, { path: '/password/' });
    const interaction = await provider.Interaction.find(uid);
    return interaction && !interaction.isExpired ? `/interaction/${uid}` : null;
  }

  router.get('/password/forgot', async (ctx) => {
    await render(ctx, 'forgot', { csrf: csrfToken(ctx), sent: false, email: '', errors: [], interaction: interactionUid(ctx.query.interaction) });
  });

  router.post('/password/forgot', parseForm, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const email = str(form.email).trim();
    const csrf = csrfToken(ctx);
    const interaction = interactionUid(form.interaction);
    const page = (errors: Text[], status: number) => render(ctx, 'forgot', { csrf, sent: false, email, errors, interaction }, status);
    if (!csrfValid(ctx, form.csrf)) return page([FORM_EXPIRED], 403);
    if (!email) return page([m('Enter your email address.')], 400);
    const request = requestInfo(ctx, deps.trustedProxies);
    if (!(await services.passwordResets.allowAddress(request.ip))) return page([m('Too many requests from your network. Try again later.')], 429);
    // The same answer, at once, whether or not the address has an account: the lookup and the mail happen afterwards.
    setImmediate(() => {
      services.passwordResets.request(email, request).catch((err) => deps.logger.error({ err }, 'password reset request failed'));
    });
    if (interaction) {
      ctx.cookies.set(SIGN_IN_COOKIE, interaction, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/password/', maxAge: 3600_000, overwrite: true });
    }
    await render(ctx, 'forgot', { csrf, sent: true, email, errors: [], interaction });
  });

  router.get('/password/reset', async (ctx) => {
    const token = str(ctx.query.token);
    const account = await services.passwordResets.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    await render(ctx, 'reset', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors: [], done: false });
  });

  router.post('/password/reset', parseForm, async (ctx) => {
    const form = ctx.request.body as Record<string, unknown>;
    const token = str(form.token);
    const account = await services.passwordResets.inspect(token);
    if (!account) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    const page = async (errors: Text[], status: number) =>
      render(ctx, 'reset', { csrf: csrfToken(ctx), token, email: account.email, rules: await rulesFor(account), errors, done: false }, status);
    if (!csrfValid(ctx, form.csrf)) return page([FORM_EXPIRED], 403);
    const newPassword = str(form.newPassword);
    const problems = await newPasswordProblems(services, account, newPassword, str(form.confirmPassword), m('Enter a new password.'));
    if (problems) return page(problems, 400);
    const result = await services.passwordResets.complete(token, newPassword, requestInfo(ctx, deps.trustedProxies));
    if (!result.ok && 'invalidLink' in result) return render(ctx, 'error', { message: BAD_LINK, code: null, hint: false }, 400);
    if (!result.ok) return page(shownProblems(result.errors), 400);
    // The reset does not sign the user in: they sign in again, in the sign-in they came from when it is still going on.
    const continueTo = await signInToContinue(ctx);
    await render(ctx, 'reset', { csrf: csrfToken(ctx), token: '', email: account.email, rules: [], errors: [], done: true, continueTo });
  });

  /**
   * "No, stay signed in" on the logout confirmation: a page of its own, reached by GET, so that
   * oidc-provider's logout form is never submitted (without logout=yes it still ends the app's session).
   * Nothing changes; the way back is the app's registered client_uri, when it has one.
   */
  router.get('/logout/stay', async (ctx) => {
    const clientId = str(ctx.query.client_id);
    const client = clientId ? await services.clients.find(clientId) : undefined;
    const uri = client?.metadata.client_uri;
    const clientUri = typeof uri === 'string' && /^https?:\/\//i.test(uri) ? uri : null;
    await render(ctx, 'still-signed-in', { clientName: client?.clientName ?? null, clientUri });
  });

  return router;
}
