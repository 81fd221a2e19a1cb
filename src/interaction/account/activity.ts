import type Router from '@koa/router';
import { m, type Text } from '../../i18n/index.js';
import type { AuditEvent } from '../../stores/sql/audit.js';
import { render } from '../views.js';
import { browserOf } from './user-agent.js';
import type { AccountSectionDeps } from './index.js';

export const ACTIVITY_PATH = '/account/activity';
/** How many of the user's events the page shows. */
export const ACTIVITY_LIMIT = 30;

/** Why a sign-in failed (sign_in.failed's reason), in plain words. */
const FAILURE: Record<string, string> = {
  invalid: m('Sign-in failed: wrong email or password'),
  locked: m('Sign-in refused: too many failed attempts, the account was locked for a while'),
  'ip-not-allowed': m('Sign-in refused: this network is not allowed by your organization'),
  'invalid-second-factor': m('Sign-in failed: wrong verification code'),
  'enrollment-superseded': m('Sign-in stopped: two-step verification was being set up in another window'),
  'passkey-refused': m('Sign-in failed: the passkey was not accepted'),
  'passkey-cloned': m('Sign-in refused: the passkey appears to have been copied'),
};

/** Events with one fixed sentence. */
const FIXED: Record<string, string> = {
  'password.changed': m('Your password was changed'),
  'password.reset_requested': m('A password reset was requested'),
  'two_factor.enrolled': m('Authenticator app set up for two-step verification'),
  'two_factor.recovery_code_used': m('A recovery code was used to sign in'),
  'two_factor.reset': m('Two-step verification was reset by an administrator'),
  'two_factor.removed': m('Authenticator app removed'),
  'two_factor.recovery_codes_renewed': m('New recovery codes were made'),
  'account.reauthenticated': m('You confirmed it was you for a sensitive change'),
  'account.reauthentication_failed': m('A confirmation for a sensitive change failed'),
  'session.others_ended': m('Signed out everywhere else'),
  'session.app_ended': m('An app was signed out'),
  'session.concurrent_ended': m('Other sessions were ended by a new sign-in'),
  'user.unlocked': m('Account unlocked by an administrator'),
  'user.disabled': m('Account disabled by an administrator'),
  'user.enabled': m('Account enabled by an administrator'),
  'user.sessions_ended': m('Signed out everywhere by an administrator'),
  'user.created': m('Account created'),
  'user.invited': m('Invited to Gatehouse'),
  'user.email_verified': m('Email address confirmed'),
  'token.refused': m('An app was refused access: this network is not allowed by your organization'),
  'account_page.refused': m('Account page refused: this network is not allowed by your organization'),
  'backchannel_logout.failed': m('An app could not be told about a sign-out'),
};

/** Whether the event is a failure or a refusal (shown as such). */
const isFailure = (e: AuditEvent): boolean => e.type === 'sign_in.failed' || e.type.endsWith('.refused') || e.type.endsWith('.failed');

/** One audit event about the user, in plain words; `appName` names a client id. */
export function describeEvent(e: AuditEvent, appName: (clientId: string) => string | undefined): Text {
  const data = e.data ?? {};
  const app = typeof data.clientId === 'string' ? appName(data.clientId) : undefined;
  switch (e.type) {
    case 'sign_in.succeeded':
      return app ? m('Signed in to {{app}}', { app }) : m('Signed in successfully');
    case 'sign_in.failed':
      return FAILURE[String(data.reason)] ?? m('Sign-in failed');
    case 'two_factor.passkey_added':
      return m('Passkey added: {{label}}', { label: String(data.label ?? '') });
    case 'two_factor.passkey_removed':
      return m('Passkey removed: {{label}}', { label: String(data.label ?? '') });
    case 'session.ended':
      return data.by === 'user' ? m('A session was signed out') : m('A session was ended because the account could not be used');
    default:
      return FIXED[e.type] ?? m('Other account event ({{type}})', { type: e.type });
  }
}

/**
 * The user's recent activity: their own last ACTIVITY_LIMIT sign-ins and security events from the
 * audit trail (AuditStore.listAboutUser: events about this user only), in plain words, with time,
 * address and browser.
 */
export function activityRoutes(router: Router, deps: AccountSectionDeps): void {
  const { services } = deps;
  router.get(ACTIVITY_PATH, async (ctx) => {
    const s = await deps.requireSignedIn(ctx);
    if (!s) return;
    const events = await services.audit.listAboutUser(s.account.id, ACTIVITY_LIMIT);
    const clientIds = [...new Set(events.map((e) => e.data?.clientId).filter((c): c is string => typeof c === 'string'))];
    const names = new Map((await Promise.all(clientIds.map(async (id) => [id, (await services.clients.find(id))?.clientName] as const))));
    await render(ctx, 'account-activity', {
      events: events.map((e) => ({
        at: new Date(e.at),
        what: describeEvent(e, (id) => names.get(id)),
        failure: isFailure(e),
        // Where the user acted from; an administrator's or an app's address is theirs, not shown here.
        details: e.actorType === 'user' && e.actorId === s.account.id
          ? [e.ip ? m('from {{address}}', { address: e.ip }) : null, e.userAgent ? browserOf(e.userAgent) : null].filter((d) => d !== null)
          : [],
      })),
    });
  });
}
