import { normalizeEmail } from '../../services/accounts.js';
import type { Services } from '../../services/index.js';
import { ipInList } from '../../policy/ip.js';
import { render } from '../views.js';
import type { Step, StepContext, StepOutcome } from './step.js';

/** Generic on purpose: an unknown email, a wrong password and a disabled account read the same. */
export const SIGN_IN_FAILED = 'Incorrect email or password.';
export const LOCKED = 'Too many failed sign-ins. Try again later, or reset your password.';
export const NETWORK_NOT_ALLOWED = 'Your organization does not allow signing in from this network.';

/** First factor: email and password, behind the IP whitelist of the policy that governs the address. */
export class PasswordStep implements Step {
  readonly name = 'password' as const;

  constructor(private readonly services: Services) {}

  async render(s: StepContext, shown = { status: 200, errors: [] as string[], values: {} as Record<string, string> }) {
    await render(
      s.ctx,
      'login',
      {
        uid: s.flow.uid,
        csrf: s.flow.csrf,
        clientName: s.client?.clientName ?? null,
        email: shown.values?.email ?? (s.interaction.params.login_hint as string | undefined) ?? '',
        errors: shown.errors,
      },
      shown.status,
    );
  }

  async submit(s: StepContext, form: Record<string, unknown>): Promise<StepOutcome> {
    const email = typeof form.email === 'string' ? form.email.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const errors: string[] = [];
    if (!email) errors.push('Enter your email address.');
    if (!password) errors.push('Enter your password.');
    if (errors.length) return { kind: 'again', status: 400, errors, values: { email } };

    // The whitelist is checked before the password, and a refusal here does not count toward lockout.
    const normalized = normalizeEmail(email);
    if (normalized) {
      const { ipWhitelist } = (await this.services.policies.effectiveFor({ email: normalized })).policy.login;
      if (ipWhitelist.enabled && !(s.request.ip && ipInList(s.request.ip, ipWhitelist.cidrs))) {
        return { kind: 'again', status: 403, errors: [NETWORK_NOT_ALLOWED], values: { email }, failure: 'ip-not-allowed' };
      }
    }

    const result = await this.services.accounts.authenticate(email, password);
    if (result.ok) return { kind: 'authenticated', accountId: result.account.id };
    return result.reason === 'locked'
      ? { kind: 'again', status: 429, errors: [LOCKED], values: { email }, failure: 'locked' }
      : { kind: 'again', status: 401, errors: [SIGN_IN_FAILED], values: { email }, failure: 'invalid' };
  }
}
