/**
 * Authentication factors beyond the password: at most one TOTP authenticator and any number of passkeys
 * per account, each a row of the `factors` table. Record types live here, apart from the SQL that stores
 * them (stores/sql/factors.ts); one contract suite (test/stores/factor-store.contract.ts) runs against
 * SQLite and PostgreSQL.
 */

export type FactorKind = 'totp' | 'passkey';

interface FactorBase {
  id: string;
  accountId: string;
  /** The user's name for it ("Work laptop"), or a default chosen when it was added. */
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface TotpFactor extends FactorBase {
  kind: 'totp';
  /** Seed sealed with SecretBox (AES-256-GCM under DATA_ENCRYPTION_KEY). */
  secret: string;
  /** RFC 6238 time step of the last accepted code: replay protection (a step must be later). */
  lastStep: number | null;
}

/** How the authenticator keeps the key: one device (hardware-bound, amr `hwk`) or synced (amr `swk`). */
export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

export interface PasskeyFactor extends FactorBase {
  kind: 'passkey';
  /** base64url credential ID, unique across all accounts. */
  credentialId: string;
  /** base64url COSE public key. */
  publicKey: string;
  /** Signature counter last seen; a later assertion must carry a larger one (unless both are 0). */
  signCount: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  /** Authenticator model (AAGUID), when the authenticator tells. */
  aaguid: string | null;
  /** Whether user verification (PIN, biometric) was performed at registration. */
  userVerified: boolean;
}

export type FactorRecord = TotpFactor | PasskeyFactor;

/** What the sign-in sequence needs to know of an account's factors (see enrolledFactors). */
export interface EnrolledFactors {
  totp: boolean;
  passkeys: number;
}

/** The one answer to "which factors does this account have". */
export function enrolledFactors(factors: readonly FactorRecord[]): EnrolledFactors {
  return { totp: factors.some((f) => f.kind === 'totp'), passkeys: factors.filter((f) => f.kind === 'passkey').length };
}

export const hasSecondFactor = (f: EnrolledFactors) => f.totp || f.passkeys > 0;

export interface FactorStore {
  listByAccount(accountId: string): Promise<FactorRecord[]>;
  /** listByAccount for many accounts in one read (admin lists): every given id is a key, oldest factor first. */
  listByAccounts(accountIds: readonly string[]): Promise<Map<string, FactorRecord[]>>;
  findPasskey(credentialId: string): Promise<PasskeyFactor | undefined>;
  /** The account's factor generation: every addition and removal moves it on (enrollments started before die). */
  generation(accountId: string): Promise<number>;
  /**
   * Adds the account's FIRST factor, started at `generation`: wins only when the account has no factor
   * and the generation is unchanged (one conditional statement / a transaction with the account row
   * locked), so of two concurrent enrollments in two browsers one wins and a factor is never replaced
   * by someone who only knows the password. False: refused.
   */
  addFirst(factor: FactorRecord, generation: number): Promise<boolean>;
  /**
   * Adds a factor to an account that may already have some (the signed-in account page). False when it
   * would be a second TOTP or a credential ID already registered anywhere, or, with `generation`, when
   * the account's factor generation moved since (an authenticator app enrolled on the account page dies
   * when a factor was added or removed meanwhile), decided under the same lock.
   */
  add(factor: FactorRecord, options?: { generation?: number }): Promise<boolean>;
  /** Records an accepted TOTP step; false when that step (or a later one) was already used. Atomic. */
  advanceTotpStep(factorId: string, step: number, now: number): Promise<boolean>;
  /**
   * Records an accepted passkey assertion: false when the counter did not move forward (newCount must
   * be greater than the stored one, unless both are 0: an authenticator without a counter). Atomic.
   */
  advancePasskeyCounter(factorId: string, newCount: number, now: number): Promise<boolean>;
  rename(accountId: string, factorId: string, label: string): Promise<boolean>;
  /**
   * Removes one factor of the account. With `keepOne`, refuses (returns 'last') when it is the account's
   * only factor, deciding under a lock so two concurrent removals cannot both pass. 'gone': no such factor.
   */
  remove(accountId: string, factorId: string, options: { keepOne: boolean }): Promise<'removed' | 'last' | 'gone'>;
  /** Removes every factor of the account (admin reset-2fa); returns how many went. */
  removeAll(accountId: string): Promise<number>;
  /** How many of these accounts have no factor at all (policy preview: who must enroll). */
  countWithoutFactor(accountIds: string[]): Promise<number>;
}
