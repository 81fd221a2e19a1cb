import type Router from '@koa/router';
import type { Context } from 'koa';
import { describeRules, nextChangeAllowedAt, passwordExpiresAt } from '../../policy/password-rules.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import type { PasskeyFactor } from '../../stores/factors.js';
import { csrfToken, csrfValid } from '../../http/csrf.js';
import { requestInfo } from '../../http/request-info.js';
import { m, type Text } from '../../i18n/index.js';
import { nowSeconds } from '../../stores/db.js';
import { str } from '../steps/step.js';
import { newPasswordProblems, shownProblems } from '../new-password.js';
import { render } from '../views.js';
import { accountPasskeyRoutes, backToMethods, confirmUrl, DONE, factorUse, FORM_EXPIRED, passkeyViews, recentlyAuthenticated, type SignedIn } from './passkeys.js';
import type { AccountSectionDeps } from './index.js';

/** An authenticator app being set up on this page, per browser session, until confirmed or abandoned. */
const ENROLLMENT_MODEL = 'AccountTotpEnrollment';
const ENROLLMENT_SECONDS = 15 * 60;
const SECTION = '/account/security';

export interface SecurityExtra {
  errors?: Text[];
  methodErrors?: Text[];
  notice?: Text;
  /** Recovery codes to show once (a first factor, or a new set). */
  codes?: string[];
}

/**
 * The account's password and sign-in methods (/account/security): the password (with the governing
 * policy's rules up front), passkeys (passkeys.ts), the authenticator app (set up here, or removed unless
 * the policy needs it as the last factor) and recovery codes (how many are left, a new set). Every change
 * of a sign-in method, and a new set of codes, needs a recent sign-in (the gate at /account/confirm).
 */
export function securityRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services, signedInAccount, parseForm } = deps;

  const pendingEnrollment = async (s: SignedIn) => {
    const found = await services.oidcStore.find(ENROLLMENT_MODEL, s.session.jti);
    return typeof found?.sealed === 'string' ? found.sealed : undefined;
  };

  async function accountPage(ctx: Context, account: AccountRecord, extra: SecurityExtra = {}, status = 200) {
    const { policy, source, domain } = await services.policies.effectiveFor(account);
    const signedIn = await signedInAccount(ctx);
    const [factors, recent, codesLeft] = await Promise.all([
      services.twoFactor.list(account.id),
      signedIn ? recentlyAuthenticated(services, signedIn) : false,
      services.twoFactor.recoveryCodesLeft(account.id),
    ]);
    const sealed = signedIn && recent ? await pendingEnrollment(signedIn) : undefined;
    const enrollment = sealed ? await services.twoFactor.showEnrollment(account, sealed) : undefined;
    const nextChange = nextChangeAllowedAt(policy.password, account.passwordChangedAt, nowSeconds());
    const expiresAt = passwordExpiresAt(policy.password, account.passwordChangedAt);
    const totp = factors.find((f) => f.kind === 'totp');
    // Shown once: never kept by a cache or the back button.
    ctx.set('Cache-Control', 'no-store');
    await render(
      ctx,
      'account-security',
      {
        here: SECTION,
        csrf: csrfToken(ctx),
        email: account.email,
        changed: m('Last changed {{when}}.', { when: new Date(account.passwordChangedAt * 1000) }),
        expires: expiresAt === null ? null : m('It expires on {{when}}.', { when: new Date(expiresAt * 1000) }),
        governedBy: source === 'organization' ? m('These rules are set by your organization {{domain}}.', { domain }) : m("These are Gatehouse's default rules."),
        rules: describeRules(policy.password),
        nextChange: nextChange === null ? null : m('You can change it again on {{when}}.', { when: new Date(nextChange * 1000) }),
        history: policy.password.historyCount,
        errors: extra.errors ?? [],
        notice: extra.notice ?? null,
        passkeys: passkeyViews(factors.filter((f): f is PasskeyFactor => f.kind === 'passkey')),
        totp: totp ? { used: factorUse(totp) } : null,
        enrollment: enrollment && !totp ? { qr: enrollment.qrDataUrl, uri: enrollment.uri, secret: enrollment.secret.match(/.{1,4}/g)!.join(' ') } : null,
        // The policy requires a factor and this is the only one: removal is refused, so not offered.
        lastFactorKept: policy.authentication.enforce2fa && factors.length <= 1,
        hasFactor: factors.length > 0,
        codesLeft,
        methodErrors: extra.methodErrors ?? [],
        recent,
        confirmHref: confirmUrl(SECTION),
        codes: extra.codes ?? [],
      },
      status,
    );
  }

  router.get(SECTION, async (ctx) => {
    const signedIn = await deps.requireSignedIn(ctx);
    if (!signedIn) return;
    const done = DONE[str(ctx.query.done) as keyof typeof DONE];
    await accountPage(ctx, signedIn.account, { notice: ctx.query.changed === '1' ? m('Your password was changed. You were signed out everywhere else.') : done });
  });

  router.post('/account/password', parseForm, async (ctx) => {
    const signedIn = await deps.requireSignedIn(ctx);
    if (!signedIn) return;
    const { account, session } = signedIn;
    const form = ctx.request.body as Record<string, unknown>;
    if (!csrfValid(ctx, form.csrf)) return accountPage(ctx, account, { errors: [FORM_EXPIRED] }, 403);
    const newPassword = str(form.newPassword);
    if (!str(form.currentPassword) || !newPassword) return accountPage(ctx, account, { errors: [m('Enter your current and your new password.')] }, 400);
    // When the two differ, every other broken rule is listed too (one round trip to fix everything).
    const problems = await newPasswordProblems(services, account, newPassword, str(form.confirmPassword), m('Enter your current and your new password.'));
    if (problems) return accountPage(ctx, account, { errors: problems }, 400);
    const result = await services.passwordChanges.change({
      account,
      newPassword,
      currentPassword: str(form.currentPassword),
      kind: 'self',
      actor: { type: 'user', id: account.id },
      request: requestInfo(ctx, deps.trustedProxies),
      keepSessionId: session.jti,
    });
    if (!result.ok) return accountPage(ctx, account, { errors: shownProblems(result.errors) }, result.locked ? 429 : 400);
    ctx.redirect(`${SECTION}?changed=1`);
    ctx.status = 303;
  });

  /**
   * A form of a sensitive change: the signed-in user, a valid CSRF token and a recent sign-in, or an
   * answer already given (a stale sign-in goes to the gate, and comes back here).
   */
  async function sensitive(ctx: Context): Promise<{ s: SignedIn; form: Record<string, unknown> } | undefined> {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return undefined;
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrfValid(ctx, form.csrf)) {
      await accountPage(ctx, s.account, { methodErrors: [FORM_EXPIRED] }, 403);
      return undefined;
    }
    if (!(await recentlyAuthenticated(services, s))) {
      ctx.redirect(confirmUrl(SECTION));
      ctx.status = 303;
      return undefined;
    }
    return { s, form };
  }

  router.post('/account/totp/start', parseForm, async (ctx) => {
    const g = await sensitive(ctx);
    if (!g) return;
    if ((await services.twoFactor.list(g.s.account.id)).some((f) => f.kind === 'totp')) {
      return accountPage(ctx, g.s.account, { methodErrors: [m('An authenticator app is already set up. Remove it first to set up another.')] }, 409);
    }
    const enrollment = await services.twoFactor.startEnrollment(g.s.account);
    await services.oidcStore.upsert(ENROLLMENT_MODEL, g.s.session.jti, { sealed: enrollment.sealed }, ENROLLMENT_SECONDS);
    ctx.redirect(`${SECTION}#authenticator`);
    ctx.status = 303;
  });

  router.post('/account/totp/cancel', parseForm, async (ctx) => {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return;
    if (!csrfValid(ctx, (ctx.request.body as Record<string, unknown>)?.csrf)) return accountPage(ctx, s.account, { methodErrors: [FORM_EXPIRED] }, 403);
    await services.oidcStore.destroy(ENROLLMENT_MODEL, s.session.jti);
    backToMethods(ctx, 'totp-cancelled');
  });

  router.post('/account/totp/confirm', parseForm, async (ctx) => {
    const g = await sensitive(ctx);
    if (!g) return;
    const { s, form } = g;
    const sealed = await pendingEnrollment(s);
    if (!sealed) return accountPage(ctx, s.account, { methodErrors: [m('This setup has expired. Start again.')] }, 409);
    const code = str(form.code).trim();
    if (!code) return accountPage(ctx, s.account, { methodErrors: [m('Type the 6-digit code the app shows.')] }, 400);
    const request = requestInfo(ctx, deps.trustedProxies);
    const codes = await services.twoFactor.confirmEnrollment(s.account, sealed, code, { type: 'user', id: s.account.id }, request, { besideOthers: true });
    if (!codes) return accountPage(ctx, s.account, { methodErrors: [m('That code does not match. Check the time on your phone and try again.')] }, 400);
    await services.oidcStore.destroy(ENROLLMENT_MODEL, s.session.jti);
    if (codes === 'superseded') {
      return accountPage(ctx, s.account, { methodErrors: [m('Your sign-in methods changed while you were setting up the app, perhaps in another window. Start again.')] }, 409);
    }
    // The account's first factor: its recovery codes, shown once, in this answer.
    if (codes.length) return accountPage(ctx, s.account, { notice: m('Authenticator app added. Save your recovery codes: they are shown only now.'), codes });
    backToMethods(ctx, 'totp-added');
  });

  router.post('/account/totp/remove', parseForm, async (ctx) => {
    const g = await sensitive(ctx);
    if (!g) return;
    const { s } = g;
    const { policy } = await services.policies.effectiveFor(s.account);
    const outcome = await services.twoFactor.removeTotp(s.account, { keepOne: policy.authentication.enforce2fa }, { type: 'user', id: s.account.id }, requestInfo(ctx, deps.trustedProxies));
    if (outcome === 'last') {
      return accountPage(ctx, s.account, { methodErrors: [m('Your organization requires two-step verification: add a passkey before removing your authenticator app.')] }, 409);
    }
    if (outcome === 'gone') return accountPage(ctx, s.account, { methodErrors: [m('No authenticator app is set up.')] }, 404);
    backToMethods(ctx, 'totp-removed');
  });

  router.post('/account/recovery-codes', parseForm, async (ctx) => {
    const g = await sensitive(ctx);
    if (!g) return;
    const { s } = g;
    const codes = await services.twoFactor.regenerateRecoveryCodes(s.account, { type: 'user', id: s.account.id }, requestInfo(ctx, deps.trustedProxies));
    if (!codes) return accountPage(ctx, s.account, { methodErrors: [m('Recovery codes need a passkey or an authenticator app first.')] }, 409);
    await accountPage(ctx, s.account, { notice: m('New recovery codes made. The old ones no longer work. Save these: they are shown only now.'), codes });
  });

  accountPasskeyRoutes(router, { services, trustedProxies: deps.trustedProxies, parseForm, signedInAccount, accountPage });
}
