import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { whitelistAllows } from '../../policy/ip.js';
import { m, textFor } from '../../i18n/index.js';
import type { Services } from '../../services/index.js';
import type { PasskeyFactor } from '../../stores/factors.js';
import { csrfMatches } from '../flow.js';
import type { StepContext } from '../steps/step.js';
import { lockedFor, NETWORK_NOT_ALLOWED } from './password.js';
import { refused, type Strategy, type Verdict } from './strategy.js';

export const PASSKEY_FAILED = m('That passkey could not be used. Try again, or use another way to sign in.');
export const PASSKEY_CLONED = m('This passkey was refused: its authenticator may have been copied. Use another way to sign in and tell your administrator.');

/** How the passkey is used: alone (password-less, both factors) or after the password. */
export type PasskeyUse = 'first' | 'second';

/** The challenge of a sign-in is bound to its interaction: one outstanding per flow, single use. */
export const bindingOf = (uid: string) => `signin:${uid}`;

/**
 * Passkeys (WebAuthn) as a sign-in method: alone, with user verification, they prove both factors
 * (`amr` hwk or swk, plus mfa); after a password, user presence suffices (security keys without user
 * verification work as a second factor). The ceremony needs a JSON endpoint for its options, which this
 * strategy registers (`routes`); the browser's answer arrives in the step's form as `credential`.
 *
 * Password-less: the account is known only from the credential, so the whitelist, the account's status
 * and the lockout are judged from it BEFORE the signature is checked or the counter moves.
 */
export class PasskeyStrategy implements Strategy<{ credential: string; use: PasskeyUse }> {
  readonly method = 'passkey' as const;

  constructor(private readonly services: Services) {}

  async verify(s: StepContext, { credential, use }: { credential: string; use: PasskeyUse }): Promise<Verdict> {
    let response: unknown;
    try {
      response = JSON.parse(credential);
    } catch {
      return refused(400, PASSKEY_FAILED, 'passkey-refused');
    }
    const known = use === 'second' ? s.known! : undefined;
    const credentialId = typeof (response as { id?: unknown })?.id === 'string' ? (response as { id: string }).id : '';
    const factor = known ? undefined : await this.services.factorStore.findPasskey(credentialId);
    const account = known?.account ?? (factor ? await this.services.accounts.findById(factor.accountId) : undefined);
    if (!account) return refused(401, PASSKEY_FAILED, 'passkey-refused');
    const who = { email: account.email, accountId: account.id };
    if (!known) {
      const governing = await this.services.policies.effectiveFor(account);
      if (!whitelistAllows(governing.policy.login.ipWhitelist, s.request.ip)) return refused(403, NETWORK_NOT_ALLOWED, 'ip-not-allowed', who);
      if (account.status !== 'active') return refused(401, PASSKEY_FAILED, 'passkey-refused', who);
    }
    if (!(await this.services.accounts.takeAttempt(account))) return refused(429, lockedFor(await this.services.accounts.lockedUntil(account.id)), 'locked', who);
    const result = await this.services.passkeys.verifyAuthentication(bindingOf(s.flow.uid), response, {
      accountId: account.id,
      requireUserVerification: use === 'first',
    });
    if (!result.ok) {
      return result.reason === 'counter-regression' ? refused(401, PASSKEY_CLONED, 'passkey-cloned', who) : refused(401, PASSKEY_FAILED, 'passkey-refused', who);
    }
    await this.services.accounts.clearAttempts(account.id);
    if (use === 'second') return { ok: true, event: { type: 'second-factor', passed: { method: 'passkey', amr: [result.amr] } } };
    return { ok: true, accountId: account.id, event: { type: 'first-factor', passed: { method: 'passkey', amr: [result.amr], multiFactor: true } } };
  }

  /**
   * POST /interaction/:uid/passkey/options: the options for the ceremony of the flow's current step:
   * the sign-in page asks for any passkey of this site with user verification; the second step for one
   * of the account's passkeys; the enrollment page registers a new one. CSRF-checked like every form.
   */
  routes(router: Router, load: (ctx: Context) => Promise<StepContext | undefined>, parseForm: Middleware) {
    router.post('/:uid/passkey/options', parseForm, async (ctx) => {
      const s = await load(ctx);
      if (!s) return;
      const form = (ctx.request.body ?? {}) as Record<string, unknown>;
      ctx.set('Cache-Control', 'no-store');
      if (!csrfMatches(s.flow, form.csrf)) {
        ctx.status = 403;
        ctx.body = { error: textFor(ctx, m('This page has expired. Reload it and try again.')) };
        return;
      }
      const binding = bindingOf(s.flow.uid);
      const passkeys = s.known ? await this.services.passkeys.list(s.known.account.id) : ([] as PasskeyFactor[]);
      switch (s.flow.step) {
        case 'password':
          ctx.body = await this.services.passkeys.authenticationOptions(binding, { userVerification: 'required' });
          return;
        case 'passkey':
          ctx.body = await this.services.passkeys.authenticationOptions(binding, { allow: passkeys, userVerification: 'preferred' });
          return;
        case 'enroll':
          ctx.body = await this.services.passkeys.registrationOptions(s.known!.account, binding, passkeys);
          return;
        default:
          ctx.status = 409;
          ctx.body = { error: textFor(ctx, m('This step of the sign-in does not use a passkey. Reload the page.')) };
      }
    });
  }
}
