import type Router from '@koa/router';
import type { Context } from 'koa';
import { describeRules, passwordExpiresAt } from '../../policy/password-rules.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import type { PasskeyFactor } from '../../stores/factors.js';
import { csrfToken, csrfValid } from '../../http/csrf.js';
import { requestInfo } from '../../http/request-info.js';
import { str } from '../steps/step.js';
import { render } from '../views.js';
import { accountPasskeyRoutes, DONE, passkeyViews, recentlyAuthenticated } from './passkeys.js';
import type { AccountSectionDeps } from './index.js';

const FORM_EXPIRED = 'This form has expired. Please try again.';
const date = (s: number | null) => (s === null ? null : new Date(s * 1000).toUTCString());

/** The account's password and sign-in methods (passkeys, authenticator app, recovery codes). */
export function securityRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services, signedInAccount, parseForm } = deps;
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

  router.get('/account', async (ctx) => {
    const signedIn = await deps.requireSignedIn(ctx);
    if (!signedIn) return;
    const done = DONE[str(ctx.query.done) as keyof typeof DONE];
    await accountPage(ctx, signedIn.account, { notice: ctx.query.changed === '1' ? 'Your password was changed. You were signed out everywhere else.' : done });
  });

  router.post('/account/password', parseForm, async (ctx) => {
    const signedIn = await deps.requireSignedIn(ctx);
    if (!signedIn) return;
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
}
