import type Router from '@koa/router';
import type { Context } from 'koa';
import { csrfToken, csrfValid } from '../../http/csrf.js';
import { requestInfo } from '../../http/request-info.js';
import { m, type Text } from '../../i18n/index.js';
import type { SecondFactorCheck } from '../../services/two-factor.js';
import { str } from '../steps/step.js';
import { render } from '../views.js';
import type { AccountSectionDeps } from './index.js';
import { FORM_EXPIRED, markRecentlyAuthenticated, signedInForCeremony, type SignedIn } from './passkeys.js';

/** Where the gate returns when `next` is missing or not an account page. */
export const DEFAULT_NEXT = '/account/security';

/**
 * The page to return to after confirming: only a path of the account center on this site
 * (`/account`, `/account/sessions`, …), never another host, scheme or a `//`-address, so the gate is no
 * open redirect. Anything else returns to DEFAULT_NEXT.
 */
export function safeNext(value: unknown): string {
  const next = typeof value === 'string' ? value : '';
  return /^\/account(?:\/[a-z0-9-]+)*$/.test(next) ? next : DEFAULT_NEXT;
}

type Method = 'password' | 'code' | 'passkey';
const METHODS: readonly Method[] = ['password', 'code', 'passkey'];

const FAILED: Record<Method, Text> = {
  password: m('That password is not right.'),
  code: m('That code is not valid. Check the time on your phone, or use another recovery code.'),
  passkey: m('That passkey could not be used. Try again, or use another way.'),
};
const LOCKED = m('Too many failed attempts. Try again later.');

/** A passkey challenge of the gate is bound to the account and this browser session, single use. */
const bindingOf = (s: SignedIn) => `reauth:${s.account.id}:${s.session.jti}`;

/**
 * The re-authentication gate (GET/POST /account/confirm?next=…): a session whose sign-in is older than
 * RECENT_SIGN_IN_SECONDS confirms it is the user with the password OR a second factor (authenticator
 * code, recovery code, passkey) before a sensitive change (sign-in methods, recovery codes, ending all
 * sessions). Every attempt counts toward the account's lockout, exactly like a sign-in; success marks the
 * session recent (AccountReauth) and returns to `next`. Both outcomes are audited.
 */
export function confirmRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services, parseForm } = deps;

  async function confirmPage(ctx: Context, s: SignedIn, next: string, errors: Text[] = [], status = 200, tried: Method | null = null) {
    const factors = await services.twoFactor.list(s.account.id);
    ctx.set('Cache-Control', 'no-store');
    await render(
      ctx,
      'account-confirm',
      {
        csrf: csrfToken(ctx),
        email: s.account.email,
        next,
        errors,
        tried,
        // A recovery code works for any account with a factor (a passkey user without an app, too).
        codes: factors.length > 0,
        totp: factors.some((f) => f.kind === 'totp'),
        passkeys: factors.some((f) => f.kind === 'passkey'),
      },
      status,
    );
  }

  router.get('/account/confirm', async (ctx) => {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return;
    await confirmPage(ctx, s, safeNext(ctx.query.next));
  });

  router.post('/account/confirm/passkey/options', parseForm, async (ctx) => {
    const s = await signedInForCeremony(ctx, deps.signedInAccount);
    if (!s) return;
    const allow = await services.passkeys.list(s.account.id);
    ctx.body = await services.passkeys.authenticationOptions(bindingOf(s), { allow, userVerification: 'preferred' });
  });

  /** One attempt with the chosen method, counted toward the lockout before it is checked. */
  async function attempt(ctx: Context, s: SignedIn, method: Method, form: Record<string, unknown>): Promise<SecondFactorCheck> {
    const request = requestInfo(ctx, deps.trustedProxies);
    if (method === 'password') return services.accounts.checkCurrentPassword(s.account, str(form.currentPassword));
    if (method === 'code') return services.twoFactor.verify(s.account, str(form.code), request);
    if (!(await services.accounts.takeAttempt(s.account))) return 'locked';
    let response: unknown;
    try {
      response = JSON.parse(str(form.credential));
    } catch {
      return 'invalid';
    }
    const result = await services.passkeys.verifyAuthentication(bindingOf(s), response, { accountId: s.account.id, requireUserVerification: false });
    if (!result.ok) return 'invalid';
    await services.accounts.clearAttempts(s.account.id);
    return 'ok';
  }

  router.post('/account/confirm', parseForm, async (ctx) => {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return;
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    const next = safeNext(form.next);
    if (!csrfValid(ctx, form.csrf)) return confirmPage(ctx, s, next, [FORM_EXPIRED], 403);
    const method = METHODS.find((x) => x === (str(form.method) || 'password'));
    if (!method) return confirmPage(ctx, s, next, [m('Choose a way to confirm it is you.')], 400);
    if (method === 'password' && !str(form.currentPassword)) return confirmPage(ctx, s, next, [m('Type your password.')], 400, method);
    if (method === 'code' && !str(form.code).trim()) return confirmPage(ctx, s, next, [m('Enter a code from your authenticator app, or a recovery code.')], 400, method);

    const result = await attempt(ctx, s, method, form);
    const audit = {
      actor: { type: 'user' as const, id: s.account.id },
      organizationId: await services.policies.organizationOf(s.account),
      target: { type: 'user' as const, id: s.account.id },
      request: requestInfo(ctx, deps.trustedProxies),
    };
    if (result !== 'ok') {
      await services.audit.record('account.reauthentication_failed', { ...audit, data: { method, reason: result } });
      return confirmPage(ctx, s, next, [result === 'locked' ? LOCKED : FAILED[method]], result === 'locked' ? 429 : 401, method);
    }
    await markRecentlyAuthenticated(services, s);
    await services.audit.record('account.reauthenticated', { ...audit, data: { method } });
    // Back on the sign-in methods, say what the confirmation allows; other pages know why they sent the user.
    ctx.redirect(next === DEFAULT_NEXT ? `${DEFAULT_NEXT}?done=confirmed#sign-in-methods` : next);
    ctx.status = 303;
  });
}
