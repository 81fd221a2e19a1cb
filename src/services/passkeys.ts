import { randomUUID } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AppConfig } from '../config/index.js';
import { nowSeconds } from '../stores/db.js';
import type { FactorStore, PasskeyFactor } from '../stores/factors.js';
import type { OidcStore, Payload } from '../stores/oidc-store.js';
import type { AccountRecord } from '../stores/sql/accounts.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { m, type Text } from '../i18n/message.js';
import { fromAddress, ownersRequest, type MailLine, type MailService } from './mail.js';
import type { PolicyService } from './policies.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';

/** OidcStore model of outstanding challenges: one per binding, replaced by the next options call. */
const MODEL = 'WebAuthnChallenge';
/** How long a ceremony may take, from its options to its answer. */
export const CHALLENGE_TTL_SECONDS = 300;
const MAX_LABEL = 64;
const NO_AAGUID = '00000000-0000-0000-0000-000000000000';

type Purpose = 'registration' | 'authentication';

export type PasskeyAccount = Pick<AccountRecord, 'id' | 'email' | 'name' | 'organizationId' | 'locale'>;

/** RFC 8176: a key bound to one device (security key, TPM) is `hwk`; a synced passkey is `swk`. */
export type PasskeyAmr = 'hwk' | 'swk';

export type RegistrationResult = { ok: true; factor: PasskeyFactor } | { ok: false; reason: 'challenge' | 'invalid' };

export type AuthenticationResult =
  | { ok: true; factor: PasskeyFactor; userVerified: boolean; amr: PasskeyAmr }
  | { ok: false; reason: 'unknown-credential' | 'wrong-account' | 'invalid' | 'counter-regression' | 'challenge' };

export const amrOf = (deviceType: PasskeyFactor['deviceType']): PasskeyAmr => (deviceType === 'singleDevice' ? 'hwk' : 'swk');

const userHandleOf = (accountId: string) => Buffer.from(accountId, 'utf8').toString('base64url');

/** A passkey's name as the user gives it: trimmed, one line, at most 64 characters; undefined when empty. */
export function cleanLabel(label: string): string | undefined {
  const clean = label.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
  return clean ? [...clean].slice(0, MAX_LABEL).join('') : undefined;
}

/** The JSON a browser posts after a ceremony, before the library looks at it: an object with a credential ID. */
function credentialShape(input: unknown): input is { id: string; rawId: string; response: Record<string, unknown> } {
  if (!input || typeof input !== 'object') return false;
  const c = input as Record<string, unknown>;
  return typeof c.id === 'string' && c.id.length > 0 && c.id.length <= 1024 && typeof c.rawId === 'string' && !!c.response && typeof c.response === 'object';
}

/** The challenge the authenticator signed (clientDataJSON.challenge), to tell a stale or foreign answer from a forged one. */
function answeredChallenge(response: Record<string, unknown>): string | undefined {
  try {
    const clientData = JSON.parse(Buffer.from(String(response.clientDataJSON), 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof clientData.challenge === 'string' ? clientData.challenge : undefined;
  } catch {
    return undefined;
  }
}

/**
 * WebAuthn ceremonies (@simplewebauthn/server) for passkeys as a second factor and for password-less
 * sign-in. Challenges live in the OidcStore (SQL or Redis) under a binding the caller names (the sign-in
 * flow, or the account page's session), expire after five minutes and are taken by the store's atomic
 * consume: whatever the answer, a challenge is used once. The counter is advanced atomically by the
 * FactorStore, which refuses a regression (a cloned authenticator).
 *
 * Not here: lockout, IP whitelist and sign-in audit (the interaction layer decides those). Adding and
 * removing a passkey is audited and mailed here.
 */
export class PasskeyService {
  private readonly ttl: number;

  constructor(
    private readonly deps: {
      factors: FactorStore;
      store: OidcStore;
      policies: PolicyService;
      audit: AuditService;
      mail: MailService;
      webauthn: AppConfig['webauthn'];
      /** Default CHALLENGE_TTL_SECONDS. */
      challengeTtlSeconds?: number;
      metrics?: Metrics;
    },
  ) {
    this.ttl = deps.challengeTtlSeconds ?? CHALLENGE_TTL_SECONDS;
  }

  get rpId(): string {
    return this.deps.webauthn.rpId;
  }

  /** The account's passkeys, oldest first. */
  async list(accountId: string): Promise<PasskeyFactor[]> {
    return (await this.deps.factors.listByAccount(accountId)).filter((f): f is PasskeyFactor => f.kind === 'passkey');
  }

  /** Options for navigator.credentials.create(): the account's existing passkeys are excluded (no second copy on one authenticator). */
  async registrationOptions(account: PasskeyAccount, binding: string, existing: readonly PasskeyFactor[]): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const options = await generateRegistrationOptions({
      rpName: this.deps.webauthn.rpName,
      rpID: this.rpId,
      userName: account.email,
      userDisplayName: account.name ?? account.email,
      userID: new Uint8Array(Buffer.from(account.id, 'utf8')),
      timeout: this.ttl * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.issue(binding, { purpose: 'registration', challenge: options.challenge, forAccount: account.id });
    return options;
  }

  /**
   * Checks the browser's answer to registrationOptions (same binding, same account): origin, RP ID,
   * challenge, user presence, signature. The passkey returned is not stored yet: the caller stores it
   * with addPasskey. User verification is recorded, not required: a security key without a PIN may
   * still serve as a second factor (password-less sign-in requires verification at each use).
   */
  async verifyRegistration(account: PasskeyAccount, binding: string, responseJSON: unknown, options: { label?: string } = {}): Promise<RegistrationResult> {
    const challenge = await this.take(binding, 'registration');
    if (!challenge || challenge.forAccount !== account.id) return { ok: false, reason: 'challenge' };
    if (!credentialShape(responseJSON)) return { ok: false, reason: 'invalid' };
    // An answer to an earlier (replaced) or another flow's options.
    if (answeredChallenge(responseJSON.response) !== challenge.challenge) return { ok: false, reason: 'challenge' };
    let info;
    try {
      const result = await verifyRegistrationResponse({
        response: responseJSON as unknown as RegistrationResponseJSON,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.deps.webauthn.origins,
        expectedRPID: this.rpId,
        requireUserVerification: false,
      });
      if (!result.verified) return { ok: false, reason: 'invalid' };
      info = result.registrationInfo;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    const { credential } = info;
    return {
      ok: true,
      factor: {
        kind: 'passkey',
        id: randomUUID(),
        accountId: account.id,
        label: cleanLabel(options.label ?? '') ?? (info.credentialDeviceType === 'multiDevice' ? 'Passkey' : 'Security key'),
        createdAt: nowSeconds(),
        lastUsedAt: null,
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        signCount: credential.counter,
        transports: (credential.transports ?? []).filter((t) => typeof t === 'string').slice(0, 8),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        aaguid: info.aaguid && info.aaguid !== NO_AAGUID ? info.aaguid : null,
        userVerified: info.userVerified,
      },
    };
  }

  /**
   * Options for navigator.credentials.get(). `allow`: the passkeys of the account being signed in (second
   * factor); none for a discoverable sign-in, where the authenticator offers its passkeys for this RP ID.
   * userVerification 'required' whenever the passkey alone signs someone in.
   */
  async authenticationOptions(
    binding: string,
    options: { allow?: readonly PasskeyFactor[]; userVerification: 'required' | 'preferred' },
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const result = await generateAuthenticationOptions({
      rpID: this.rpId,
      allowCredentials: options.allow?.map((p) => ({ id: p.credentialId, transports: p.transports })),
      userVerification: options.userVerification,
      timeout: this.ttl * 1000,
    });
    await this.issue(binding, { purpose: 'authentication', challenge: result.challenge });
    return result;
  }

  /**
   * Checks the browser's answer to authenticationOptions. `accountId`: the account already identified
   * (second factor after the password): a passkey of anyone else is refused. `requireUserVerification`:
   * true when the passkey alone signs someone in. On success the counter has moved forward (atomically;
   * a counter that did not, on an authenticator that counts, is a cloned credential and is refused).
   */
  async verifyAuthentication(
    binding: string,
    responseJSON: unknown,
    options: { accountId?: string; requireUserVerification: boolean },
  ): Promise<AuthenticationResult> {
    const result = await this.checkAssertion(binding, responseJSON, options);
    // A passkey that is the first factor must verify the user; one that is the second factor need not
    // (the sign-in strategy asks exactly so): only the latter is a second-factor check.
    if (!options.requireUserVerification) {
      (this.deps.metrics ?? NO_METRICS).secondFactor('passkey', result.ok ? 'ok' : result.reason === 'counter-regression' ? 'cloned' : 'invalid');
    }
    return result;
  }

  private async checkAssertion(
    binding: string,
    responseJSON: unknown,
    options: { accountId?: string; requireUserVerification: boolean },
  ): Promise<AuthenticationResult> {
    const challenge = await this.take(binding, 'authentication');
    if (!challenge) return { ok: false, reason: 'challenge' };
    if (!credentialShape(responseJSON)) return { ok: false, reason: 'invalid' };
    if (answeredChallenge(responseJSON.response) !== challenge.challenge) return { ok: false, reason: 'challenge' };
    const factor = await this.deps.factors.findPasskey(responseJSON.id);
    if (!factor) return { ok: false, reason: 'unknown-credential' };
    if (options.accountId !== undefined && factor.accountId !== options.accountId) return { ok: false, reason: 'wrong-account' };
    const response = responseJSON as unknown as AuthenticationResponseJSON;
    // A discoverable credential names its user: it must be the passkey's owner (WebAuthn §7.2 step 6).
    if (response.response.userHandle && response.response.userHandle !== userHandleOf(factor.accountId)) return { ok: false, reason: 'invalid' };
    let info;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.deps.webauthn.origins,
        expectedRPID: this.rpId,
        // The counter is judged below, atomically, by the store (the library's check would be read-then-write).
        credential: { id: factor.credentialId, publicKey: new Uint8Array(Buffer.from(factor.publicKey, 'base64url')), counter: 0, transports: factor.transports },
        requireUserVerification: options.requireUserVerification,
      });
      if (!result.verified) return { ok: false, reason: 'invalid' };
      info = result.authenticationInfo;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    const now = nowSeconds();
    if (!(await this.deps.factors.advancePasskeyCounter(factor.id, info.newCounter, now))) return { ok: false, reason: 'counter-regression' };
    return {
      ok: true,
      factor: { ...factor, signCount: info.newCounter, lastUsedAt: now, backedUp: info.credentialBackedUp },
      userVerified: info.userVerified,
      amr: amrOf(info.credentialDeviceType),
    };
  }

  /**
   * Stores a passkey from verifyRegistration, audits and mails the user. `first`: the factor generation
   * an enrollment under enforcement started at (the passkey must be the account's first factor, and
   * nothing may have changed since); without it the passkey joins the account's others. False: refused
   * (a factor appeared or went meanwhile, or the credential is registered already).
   */
  async addPasskey(account: PasskeyAccount, factor: PasskeyFactor, options: { first?: number }, actor: Actor, request: RequestInfo): Promise<boolean> {
    if (factor.accountId !== account.id) return false;
    const added = options.first !== undefined ? await this.deps.factors.addFirst(factor, options.first) : await this.deps.factors.add(factor);
    if (!added) return false;
    await this.deps.audit.record('two_factor.passkey_added', {
      actor,
      organizationId: await this.deps.policies.organizationOf(account),
      target: { type: 'user', id: account.id },
      request,
      data: { factorId: factor.id, label: factor.label, deviceType: factor.deviceType, userVerified: factor.userVerified },
    });
    await this.notify(account, m('A passkey was added'), [
      m('A passkey ("{{label}}") was added to {{email}} on {{when}}.', { label: factor.label, email: account.email, when: new Date(nowSeconds() * 1000) }),
      ...fromAddress(request),
      m('It can now be used to sign in.'),
      '',
      m('If this was not you, remove it on your account page, change your password at once and tell your administrator.'),
    ], ownersRequest(account, actor, request));
    return true;
  }

  /**
   * Removes one of the account's passkeys, audits and mails the user. `keepOne`: refuse ('last') when it
   * is the account's only factor (the policy requires one); decided under a lock by the store.
   */
  async removePasskey(
    account: PasskeyAccount,
    factorId: string,
    options: { keepOne: boolean },
    actor: Actor,
    request: RequestInfo,
  ): Promise<'removed' | 'last' | 'gone'> {
    const passkey = (await this.list(account.id)).find((p) => p.id === factorId);
    if (!passkey) return 'gone';
    const outcome = await this.deps.factors.remove(account.id, factorId, options);
    if (outcome !== 'removed') return outcome;
    await this.deps.audit.record('two_factor.passkey_removed', {
      actor,
      organizationId: await this.deps.policies.organizationOf(account),
      target: { type: 'user', id: account.id },
      request,
      data: { factorId, label: passkey.label },
    });
    const owners = ownersRequest(account, actor, request);
    const values = { label: passkey.label, email: account.email, when: new Date(nowSeconds() * 1000) };
    await this.notify(account, m('A passkey was removed'), [
      owners
        ? m('The passkey "{{label}}" was removed from {{email}} on {{when}}.', values)
        : m('The passkey "{{label}}" was removed from {{email}} by an administrator on {{when}}.', values),
      ...fromAddress(request),
      m('It can no longer be used to sign in.'),
      '',
      m('If this was not you, change your password at once and tell your administrator.'),
    ], owners);
    return 'removed';
  }

  /** Renames one of the account's passkeys; false when the name is empty or no such passkey is the account's. */
  async renamePasskey(account: PasskeyAccount, factorId: string, label: string): Promise<boolean> {
    const clean = cleanLabel(label);
    if (!clean) return false;
    if (!(await this.list(account.id)).some((p) => p.id === factorId)) return false;
    return this.deps.factors.rename(account.id, factorId, clean);
  }

  /** Records the binding's challenge, replacing any outstanding one. */
  private async issue(binding: string, challenge: { purpose: Purpose; challenge: string; forAccount?: string }): Promise<void> {
    if (!binding || binding.length > 200) throw new Error('a WebAuthn challenge binding must be 1-200 characters');
    await this.deps.store.upsert(MODEL, binding, { ...challenge, expiresAt: nowSeconds() + this.ttl }, this.ttl);
  }

  /**
   * Takes the binding's challenge for good: the store's atomic consume decides which one call gets it
   * (never read-then-write). The payload read afterwards must be the one consumed (a new options call
   * in between replaces it with an unconsumed one), of the expected purpose and unexpired.
   */
  private async take(binding: string, purpose: Purpose): Promise<{ challenge: string; forAccount?: string } | undefined> {
    if (!binding || binding.length > 200) return undefined;
    if (!(await this.deps.store.consume(MODEL, binding))) return undefined;
    const p: Payload | undefined = await this.deps.store.find(MODEL, binding);
    if (!p || p.consumed === undefined || p.purpose !== purpose || typeof p.challenge !== 'string') return undefined;
    if (typeof p.expiresAt !== 'number' || p.expiresAt <= nowSeconds()) return undefined;
    return { challenge: p.challenge, forAccount: typeof p.forAccount === 'string' ? p.forAccount : undefined };
  }

  /**
   * Adding or removing a passkey is always mailed to the account's address (delivery failures are logged by
   * MailService), in the account's language (see mailLocale; `ownersRequest` only when the owner acted).
   */
  private async notify(account: PasskeyAccount, subject: Text, lines: MailLine[], ownersRequest?: RequestInfo) {
    await this.deps.mail.notify(account, subject, lines, ownersRequest);
  }
}
