import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { OidcStore } from '../stores/oidc-store.js';

/**
 * The state of one sign-in, keyed by the oidc-provider interaction uid. A sign-in is a sequence of
 * explicit steps; each POST is accepted only for the step the flow is in. Stored beside the
 * provider's artifacts, so any node can serve any step.
 */
export type StepName = 'password' | 'totp' | 'enroll-totp' | 'recovery-codes' | 'change-password' | 'expiry-warning' | 'consent';

export interface SignInFlow {
  uid: string;
  step: StepName;
  /** Per-flow CSRF token, carried by every form of the flow. */
  csrf: string;
  /** Set once the first factor has succeeded. */
  accountId?: string;
  /** Why the flow asks for a new password: it expired, an admin required it, or it expires soon (optional). */
  passwordReason?: 'expired' | 'required' | 'expiring';
  /** When the password expires (epoch seconds), for the warning step. */
  passwordExpiresAt?: number;
  /** The TOTP seed being enrolled, sealed (SecretBox), until the user confirms a code. */
  pendingTotp?: string;
  /** Set once the second factor passed (or was not needed). */
  secondFactorDone?: boolean;
}

const MODEL = 'SignInFlow';

export class FlowStore {
  constructor(
    private readonly store: OidcStore,
    private readonly ttlSeconds: number,
  ) {}

  async load(uid: string): Promise<SignInFlow | undefined> {
    return (await this.store.find(MODEL, uid)) as SignInFlow | undefined;
  }

  async start(uid: string, step: StepName): Promise<SignInFlow> {
    const flow: SignInFlow = { uid, step, csrf: randomBytes(32).toString('base64url') };
    await this.save(flow);
    return flow;
  }

  save(flow: SignInFlow): Promise<void> {
    return this.store.upsert(MODEL, flow.uid, { ...flow }, this.ttlSeconds);
  }

  end(uid: string): Promise<void> {
    return this.store.destroy(MODEL, uid);
  }
}

export function csrfMatches(flow: SignInFlow, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(flow.csrf);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}
