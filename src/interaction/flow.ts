import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { OidcStore } from '../stores/oidc-store.js';
import type { Established, StepName } from './sequence.js';

export type { StepName } from './sequence.js';

/**
 * The state of one sign-in, keyed by the oidc-provider interaction uid. What the sign-in has
 * established (`established`) changes only through sequence.ts's `record`; `step` is the page that
 * sequence.ts's `nextStep` chose last, and each POST is accepted only for it. Stored beside the
 * provider's artifacts, so any node can serve any step.
 */
export interface SignInFlow {
  uid: string;
  step: StepName;
  /** Per-flow CSRF token, carried by every form of the flow. */
  csrf: string;
  /** Set once the first factor has succeeded. */
  accountId?: string;
  established: Established;
  /** The factor generation when the enrollment page was entered (a passkey enrolled there must be the first factor). */
  enrollGeneration?: number;
  /** The TOTP seed being enrolled, sealed (SecretBox), until the user confirms a code. */
  pendingTotp?: string;
}

const MODEL = 'SignInFlow';

export class FlowStore {
  constructor(
    private readonly store: OidcStore,
    private readonly ttlSeconds: number,
  ) {}

  async load(uid: string): Promise<SignInFlow | undefined> {
    const flow = (await this.store.find(MODEL, uid)) as SignInFlow | undefined;
    // A flow saved before `established` existed (a sign-in in progress across an upgrade) starts over.
    return flow && flow.established ? { ...flow, uid } : undefined;
  }

  async start(uid: string, step: StepName): Promise<SignInFlow> {
    const flow: SignInFlow = { uid, step, csrf: randomBytes(32).toString('base64url'), established: {} };
    await this.save(flow);
    return flow;
  }

  /**
   * Stored under its uid without the uid in the payload: a payload's `uid` makes the store keep a
   * uid → id lookup (for oidc-provider's sessions), which for a flow would map the uid to itself and,
   * on Redis, outlive the flow until its TTL (two keys per sign-in).
   */
  save(flow: SignInFlow): Promise<void> {
    const { uid, ...payload } = flow;
    return this.store.upsert(MODEL, uid, payload, this.ttlSeconds);
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
