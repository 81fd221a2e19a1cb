/**
 * WebAuthn virtual authenticators in Chromium over the DevTools protocol (the WebAuthn domain): the
 * page's navigator.credentials talks to a software authenticator the test controls and inspects.
 *
 *   const key = await addVirtualAuthenticator(page, { kind: 'passkey' });
 *   … the page registers / signs in …
 *   expect(await key.credentials()).toHaveLength(1);
 *
 * 'passkey': CTAP2 platform authenticator (transport internal), resident keys, user verification
 * (succeeding unless setUserVerified(false)). 'u2f': a U2F security key on USB, no resident keys, no
 * user verification (user presence only). Presence is simulated automatically.
 */
import type { CDPSession, Page } from 'playwright-core';

export type AuthenticatorKind = 'passkey' | 'u2f';

/** A credential as the WebAuthn domain gives and takes it (binary fields are base64). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId?: string;
  /** PKCS#8 ECDSA P-256 private key, base64. */
  privateKey: string;
  userHandle?: string;
  signCount: number;
  backupEligibility?: boolean;
  backupState?: boolean;
  userName?: string;
  userDisplayName?: string;
}

export interface VirtualAuthenticator {
  authenticatorId: string;
  kind: AuthenticatorKind;
  session: CDPSession;
  /** The credentials it holds, with their private keys and current signature counters. */
  credentials(): Promise<VirtualCredential[]>;
  addCredential(credential: VirtualCredential): Promise<void>;
  removeAll(): Promise<void>;
  /** Whether user verification (PIN/biometric) succeeds from now on. */
  setUserVerified(verified: boolean): Promise<void>;
  /** Detaches the authenticator from the page. */
  remove(): Promise<void>;
}

export interface AuthenticatorOptions {
  kind: AuthenticatorKind;
  /**
   * Credentials it creates carry the backup-eligible and backed-up flags (a synced, multi-device
   * passkey: amr 'swk'); default false (single-device: 'hwk'). Passkeys only.
   */
  backedUp?: boolean;
}

/** One CDP session per page with the WebAuthn domain enabled (authenticators live as long as it does). */
const sessions = new WeakMap<Page, Promise<CDPSession>>();

function webAuthnSession(page: Page): Promise<CDPSession> {
  let session = sessions.get(page);
  if (!session) {
    session = (async () => {
      const s = await page.context().newCDPSession(page);
      await s.send('WebAuthn.enable', { enableUI: false });
      return s;
    })();
    sessions.set(page, session);
  }
  return session;
}

export async function addVirtualAuthenticator(page: Page, options: AuthenticatorOptions): Promise<VirtualAuthenticator> {
  const session = await webAuthnSession(page);
  const backedUp = options.backedUp ?? false;
  const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
    options:
      options.kind === 'passkey'
        ? {
            protocol: 'ctap2',
            ctap2Version: 'ctap2_1',
            transport: 'internal',
            hasResidentKey: true,
            hasUserVerification: true,
            isUserVerified: true,
            automaticPresenceSimulation: true,
            defaultBackupEligibility: backedUp,
            defaultBackupState: backedUp,
          }
        : {
            protocol: 'u2f',
            transport: 'usb',
            hasResidentKey: false,
            hasUserVerification: false,
            automaticPresenceSimulation: true,
          },
  });
  return {
    authenticatorId,
    kind: options.kind,
    session,
    async credentials() {
      const { credentials } = await session.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials as VirtualCredential[];
    },
    async addCredential(credential) {
      await session.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
    async removeAll() {
      await session.send('WebAuthn.clearCredentials', { authenticatorId });
    },
    async setUserVerified(verified) {
      await session.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: verified });
    },
    async remove() {
      await session.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/**
 * Copies a credential (private key included) from `from` into `to` with a LOWER signature counter: a
 * cloned authenticator. The clone's next assertion reports `signCount + 1`, which is not above the
 * counter the relying party last saw from the original (`original.signCount`), so a relying party that
 * checks counters must refuse it. `signCount` defaults to 0 and must be below the original's: use the
 * original at least once first. Takes the only credential unless `credentialId` names one. Returns the
 * credential as added to `to`.
 */
export async function cloneCredential(
  from: VirtualAuthenticator,
  to: VirtualAuthenticator,
  options: { credentialId?: string; signCount?: number } = {},
): Promise<VirtualCredential> {
  const all = await from.credentials();
  const original = options.credentialId ? all.find((c) => c.credentialId === options.credentialId) : all.length === 1 ? all[0] : undefined;
  if (!original) throw new Error(`cloneCredential: ${options.credentialId ? `no credential ${options.credentialId}` : `${all.length} credentials, name one`}`);
  const signCount = options.signCount ?? 0;
  if (signCount >= original.signCount) {
    throw new Error(`cloneCredential: the original's counter is ${original.signCount}; a clone at ${signCount} would not regress (use the original first)`);
  }
  const clone: VirtualCredential = { ...original, signCount };
  await to.addCredential(clone);
  return clone;
}
