import type Router from '@koa/router';
import { m, type Text } from '../../i18n/index.js';
import type { EffectivePolicy } from '../../policy/effective-policy.js';
import { passwordExpiresAt } from '../../policy/password-rules.js';
import type { EnrolledFactors } from '../../stores/factors.js';
import { hasSecondFactor } from '../../stores/factors.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import { render } from '../views.js';
import type { AccountSectionDeps } from './index.js';

/** What the overview says about the rules that govern the account, each a sentence. */
export interface PolicyInWords {
  /** Who sets the rules and the two that matter most (two-step verification, password expiry). */
  headline: Text;
  password: Text[];
  sessions: Text[];
  network: Text;
  twoStep: Text | null;
}

/**
 * The effective policy in plain words ("Your organization acme.example requires two-step verification and
 * a new password every 90 days; yours expires on …"). Dates are Dates: each page shows them in the
 * browser's own zone.
 */
export function policyInWords(effective: EffectivePolicy, account: Pick<AccountRecord, 'passwordChangedAt'>, factors: EnrolledFactors): PolicyInWords {
  const { policy, domain } = effective;
  const p = policy.password;
  const s = policy.session;
  const days = p.expirationDays;
  const expires = passwordExpiresAt(p, account.passwordChangedAt);
  const expiresOn = expires === null ? null : new Date(expires * 1000);
  const twoStep = policy.authentication.enforce2fa;

  let headline: Text;
  if (effective.source === 'organization') {
    if (twoStep && days) headline = m('Your organization {{domain}} requires two-step verification and a new password every {{days}} days; yours expires on {{expires}}.', { domain, days, expires: expiresOn });
    else if (twoStep) headline = m('Your organization {{domain}} requires two-step verification.', { domain });
    else if (days) headline = m('Your organization {{domain}} requires a new password every {{days}} days; yours expires on {{expires}}.', { domain, days, expires: expiresOn });
    else headline = m('Your account follows the rules of your organization {{domain}}.', { domain });
  } else {
    headline = m("Gatehouse's default rules apply to your account.");
  }

  const password: Text[] = [m('Passwords have {{min}} to {{max}} characters.', { min: p.minLength, max: p.maxLength })];
  if (effective.source !== 'organization' && days) password.push(m('A new password is needed every {{days}} days; yours expires on {{expires}}.', { days, expires: expiresOn }));
  if (!days) password.push(m('Your password does not expire.'));
  if (p.historyCount) password.push(m('You cannot reuse any of your last {{count}} passwords.', { count: p.historyCount }));
  if (p.minAgeHours > 0) password.push(m('After a change, you can change your password again after {{count}} hours.', { count: p.minAgeHours }));

  const sessions: Text[] = [m('A sign-in in the browser lasts at most {{count}} hours.', { count: s.webTimeoutHours })];
  if (s.webIdleTimeoutMinutes) sessions.push(m('You are signed out after {{count}} minutes without activity.', { count: s.webIdleTimeoutMinutes }));
  if (s.expireCookieOnBrowserClose) sessions.push(m('Closing the browser signs you out.'));
  if (s.preventConcurrentWebSessions) sessions.push(m('Signing in on another browser signs you out of the others.'));

  const network = policy.login.ipWhitelist.enabled
    ? m('You can sign in only from the networks your organization allows.')
    : m('You can sign in from any network.');

  const enrolled = hasSecondFactor(factors);
  const twoStepState = twoStep
    ? enrolled
      ? m('Two-step verification is required, and yours is set up.')
      : m('Two-step verification is required: you will set it up at your next sign-in.')
    : enrolled
      ? m('Two-step verification is on for your account.')
      : m('Two-step verification is optional. Add a passkey or an authenticator app to turn it on.');

  return { headline, password, sessions, network, twoStep: twoStepState };
}

/** The account center's first page (/account): who is signed in, the rules that apply, links to the sections. */
export function overviewRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services } = deps;
  router.get('/account', async (ctx) => {
    const signedIn = await deps.requireSignedIn(ctx);
    if (!signedIn) return;
    const { account } = signedIn;
    const [effective, factors] = await Promise.all([services.policies.effectiveFor(account), services.twoFactor.enrolled(account.id)]);
    await render(ctx, 'account-overview', { email: account.email, name: account.name, words: policyInWords(effective, account, factors) });
  });
}
