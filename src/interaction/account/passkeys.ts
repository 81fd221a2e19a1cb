import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Services } from '../../services/index.js';
import type { AccountRecord } from '../../stores/sql/accounts.js';
import type { PasskeyFactor } from '../../stores/factors.js';
import { csrfValid } from '../../http/csrf.js';
import { requestInfo } from '../../http/request-info.js';
import { nowSeconds } from '../../stores/db.js';
import { str } from '../steps/step.js';
import { defaultPasskeyLabel } from '../steps/enroll-totp.js';
import { m, textFor, type Text } from '../../i18n/index.js';

/** Sensitive changes (sign-in methods, recovery codes, ending all sessions) need a sign-in (or a confirmation) this recent. */
export const RECENT_SIGN_IN_SECONDS = 5 * 60;
const REAUTH_MODEL = 'AccountReauth';

export interface SignedIn {
  account: AccountRecord;
  session: { jti: string; authTime(): number | undefined };
}

/** Whether the signed-in session may change sign-in methods now (see RECENT_SIGN_IN_SECONDS). */
export async function recentlyAuthenticated(services: Services, s: SignedIn): Promise<boolean> {
  const now = nowSeconds();
  if ((s.session.authTime() ?? 0) > now - RECENT_SIGN_IN_SECONDS) return true;
  const marker = await services.oidcStore.find(REAUTH_MODEL, s.session.jti);
  return typeof marker?.at === 'number' && marker.at > now - RECENT_SIGN_IN_SECONDS;
}

/** Marks the session as confirmed just now (the gate at /account/confirm): per session, seen by every node. */
export async function markRecentlyAuthenticated(services: Services, s: SignedIn): Promise<void> {
  await services.oidcStore.upsert(REAUTH_MODEL, s.session.jti, { at: nowSeconds() }, RECENT_SIGN_IN_SECONDS);
}

/** A form of the account pages posted without its CSRF token (or with an old one). */
export const FORM_EXPIRED = m('This form has expired: reload the page and try again.');
/** The same for a page's JSON request (a passkey ceremony's options). */
export const PAGE_EXPIRED = m('This page has expired: reload it and try again.');

/** A text in the request's language, for answers that are not pages (JSON, plain text). */

/** Where the gate sends a session that must confirm it is the user before `next` (an /account path). */
export const confirmUrl = (next: string) => `/account/confirm?next=${encodeURIComponent(next)}`;

export interface AccountPasskeysDeps {
  services: Services;
  trustedProxies: string[];
  parseForm: Middleware;
  signedInAccount(ctx: Context): Promise<SignedIn | undefined>;
  accountPage(ctx: Context, account: AccountRecord, extra: { methodErrors?: Text[]; notice?: Text; codes?: string[] }, status?: number): Promise<void>;
}

/** What the account page shows about passkeys. */
export interface PasskeyView {
  id: string;
  label: string;
  kind: Text;
  /** When it was added and last used. */
  used: Text;
}

/** "Added <date> · last used <date>" of a factor, its dates shown in the browser's zone. */
export const factorUse = (f: { createdAt: number; lastUsedAt: number | null }): Text =>
  f.lastUsedAt === null
    ? m('Added {{added}} · not used yet', { added: new Date(f.createdAt * 1000) })
    : m('Added {{added}} · last used {{used}}', { added: new Date(f.createdAt * 1000), used: new Date(f.lastUsedAt * 1000) });

const KIND = (p: PasskeyFactor) =>
  p.deviceType === 'multiDevice' ? m('Synced passkey') : p.transports.includes('internal') || p.transports.includes('hybrid') ? m('Passkey on one device') : m('Security key');

export const passkeyViews = (passkeys: PasskeyFactor[]): PasskeyView[] =>
  passkeys.map((p) => ({ id: p.id, label: p.label, kind: KIND(p), used: factorUse(p) }));

/** What the account page says after a change (`?done=`): fixed sentences, never text from the URL. */
export const DONE = {
  confirmed: m('Confirmed. For the next 5 minutes you can change your sign-in methods.'),
  added: m('Passkey added. You can use it to sign in.'),
  renamed: m('Passkey renamed.'),
  removed: m('Passkey removed. It can no longer be used to sign in.'),
  'totp-added': m('Authenticator app added. It will ask for its code when you sign in.'),
  'totp-removed': m('Authenticator app removed. It can no longer be used to sign in.'),
  'totp-cancelled': m('Setting up the authenticator app was cancelled.'),
} as const;
export type Done = keyof typeof DONE;

/** Back to the sign-in methods with a fixed sentence (`?done=`), as a 303 after a form. */
export function backToMethods(ctx: Context, done: Done): void {
  ctx.redirect(`/account/security?done=${done}#sign-in-methods`);
  ctx.status = 303;
}

const bindingOf = (s: SignedIn) => `account:${s.account.id}:${s.session.jti}`;

/**
 * Passkeys on the account page: add (a WebAuthn ceremony, its options from a JSON endpoint), rename,
 * remove. Adding and removing need a recent sign-in: within RECENT_SIGN_IN_SECONDS of the session's
 * sign-in, or of confirming it is the user at the gate (confirm.ts; kept per session, in the OidcStore, so every node
 * sees it). Removal keeps the last factor of a user whose policy requires one. Adding or removing is
 * audited and mailed (PasskeyService). Registered on the account pages' router, behind its whitelist guard.
 */
/**
 * A WebAuthn options endpoint's caller (JSON, never cached): the signed-in user with a valid CSRF token,
 * or undefined with the JSON error already answered (401 not signed in, 403 stale page).
 */
export async function signedInForCeremony(ctx: Context, signedInAccount: (ctx: Context) => Promise<SignedIn | undefined>): Promise<SignedIn | undefined> {
  ctx.set('Cache-Control', 'no-store');
  const s = await signedInAccount(ctx);
  const form = (ctx.request.body ?? {}) as Record<string, unknown>;
  if (s && csrfValid(ctx, form.csrf)) return s;
  ctx.status = s ? 403 : 401;
  ctx.body = { error: textFor(ctx, PAGE_EXPIRED) };
  return undefined;
}

export function accountPasskeyRoutes(router: Router, deps: AccountPasskeysDeps): void {
  const { services, parseForm } = deps;

  /** The signed-in user and the checked form, or an answer already given (not signed in, bad CSRF). */
  async function guarded(ctx: Context): Promise<{ s: SignedIn; form: Record<string, unknown> } | undefined> {
    const s = await deps.signedInAccount(ctx);
    if (!s) {
      ctx.status = 401;
      ctx.body = textFor(ctx, m('You are not signed in to Gatehouse.'));
      return undefined;
    }
    const form = (ctx.request.body ?? {}) as Record<string, unknown>;
    if (!csrfValid(ctx, form.csrf)) {
      await deps.accountPage(ctx, s.account, { methodErrors: [FORM_EXPIRED] }, 403);
      return undefined;
    }
    return { s, form };
  }

  router.post('/account/passkeys/options', parseForm, async (ctx) => {
    const s = await signedInForCeremony(ctx, deps.signedInAccount);
    if (!s) return;
    if (!(await recentlyAuthenticated(services, s))) {
      ctx.status = 403;
      ctx.body = { error: textFor(ctx, m('Confirm it is you first (reload the page).')) };
      return;
    }
    ctx.body = await services.passkeys.registrationOptions(s.account, bindingOf(s), await services.passkeys.list(s.account.id));
  });

  router.post('/account/passkeys', parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    const { s, form } = g;
    if (!(await recentlyAuthenticated(services, s))) return deps.accountPage(ctx, s.account, { methodErrors: [m('Confirm it is you before adding a passkey.')] }, 403);
    let response: unknown;
    try {
      response = JSON.parse(str(form.credential));
    } catch {
      return deps.accountPage(ctx, s.account, { methodErrors: [m('Adding a passkey here needs JavaScript.')] }, 400);
    }
    const request = requestInfo(ctx, deps.trustedProxies);
    const label = str(form.label).trim() || defaultPasskeyLabel(request.userAgent);
    const verified = await services.passkeys.verifyRegistration(s.account, bindingOf(s), response, { label });
    if (!verified.ok) return deps.accountPage(ctx, s.account, { methodErrors: [m('The passkey could not be added. Try again.')] }, 400);
    const hadFactor = (await services.twoFactor.list(s.account.id)).length > 0;
    if (!(await services.passkeys.addPasskey(s.account, verified.factor, {}, { type: 'user', id: s.account.id }, request))) {
      return deps.accountPage(ctx, s.account, { methodErrors: [m('This passkey is already registered.')] }, 409);
    }
    // The account's first factor: its recovery codes, shown once, in this answer.
    if (!hadFactor) {
      const codes = await services.twoFactor.issueRecoveryCodes(s.account.id);
      return deps.accountPage(ctx, s.account, { notice: m('Passkey added. Save your recovery codes: they are shown only now.'), codes });
    }
    backToMethods(ctx, 'added');
  });

  router.post('/account/passkeys/:id/rename', parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    if (!(await services.passkeys.renamePasskey(g.s.account, ctx.params.id!, str(g.form.label)))) {
      return deps.accountPage(ctx, g.s.account, { methodErrors: [m('Give the passkey a name.')] }, 400);
    }
    backToMethods(ctx, 'renamed');
  });

  router.post('/account/passkeys/:id/remove', parseForm, async (ctx) => {
    const g = await guarded(ctx);
    if (!g) return;
    const { s } = g;
    if (!(await recentlyAuthenticated(services, s))) return deps.accountPage(ctx, s.account, { methodErrors: [m('Confirm it is you before removing a passkey.')] }, 403);
    const { policy } = await services.policies.effectiveFor(s.account);
    const outcome = await services.passkeys.removePasskey(s.account, ctx.params.id!, { keepOne: policy.authentication.enforce2fa }, { type: 'user', id: s.account.id }, requestInfo(ctx, deps.trustedProxies));
    if (outcome === 'last') {
      return deps.accountPage(ctx, s.account, { methodErrors: [m('Your organization requires two-step verification: add another passkey or an authenticator app before removing your last one.')] }, 409);
    }
    if (outcome === 'gone') return deps.accountPage(ctx, s.account, { methodErrors: [m('That passkey is not on your account.')] }, 404);
    backToMethods(ctx, 'removed');
  });
}

