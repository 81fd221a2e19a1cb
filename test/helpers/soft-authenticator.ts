/**
 * A software WebAuthn authenticator and client for Node tests (no browser): P-256 ECDSA credentials made
 * with node:crypto, attestation objects of format "none" (CBOR encoded here), clientDataJSON for an
 * origin and challenge, authenticator data with the RP ID hash, flags and signature counter, and
 * assertions signed over authData || SHA-256(clientDataJSON). It answers the JSON options the server
 * hands out with the JSON a browser would post back (@simplewebauthn/browser's RegistrationResponseJSON
 * and AuthenticationResponseJSON), and can lie: another origin, another RP ID, no user verification,
 * a chosen counter, a clone of a credential (same key, its own lower counter).
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

// ---- a CBOR encoder for what attestation objects and COSE keys hold (RFC 8949, canonical enough) ----

type Cbor = number | string | Uint8Array | Map<number | string, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error('cbor: integers only');
    return value >= 0 ? head(0, value) : head(1, -1 - value);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  const parts: Buffer[] = [head(5, value.size)];
  for (const [k, v] of value) parts.push(cbor(k), cbor(v));
  return Buffer.concat(parts);
}

// ---- the authenticator ----

const b64url = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface SoftCredential {
  id: Buffer;
  rpId: string;
  privateKey: KeyObject;
  /** COSE_Key (EC2, ES256, P-256) as stored by the relying party. */
  cosePublicKey: Buffer;
  /** user.id of the registration; returned as userHandle by a discoverable credential. */
  userHandle: Buffer;
  discoverable: boolean;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** The origin the "browser" runs on (clientDataJSON.origin). */
  origin: string;
  /** A synced passkey (BE and BS flags set: multiDevice, amr swk); default false: a device-bound key (hwk). */
  synced?: boolean;
  /** Whether the authenticator can verify its user (PIN, biometric); default true. False: a U2F-style key. */
  userVerifying?: boolean;
  /** Whether it keeps discoverable (resident) credentials; default true. */
  residentKeys?: boolean;
  /** How much each assertion adds to the counter; 0: an authenticator without a counter. Default 1. */
  counterStep?: number;
  /** Reported authenticator model. */
  aaguid?: string;
  transports?: string[];
}

/** Per-ceremony lies (and choices). */
export interface Ceremony {
  /** clientDataJSON.origin instead of the authenticator's. */
  origin?: string;
  /** The RP ID hashed into the authenticator data instead of the one in the options. */
  rpId?: string;
  /** Force the UV flag on or off (default: on when the authenticator can and the options do not discourage it). */
  userVerified?: boolean;
  /** Clear the UP flag. */
  userAbsent?: boolean;
  /** clientDataJSON.challenge instead of the options'. */
  challenge?: string;
  /** clientDataJSON.type instead of the ceremony's. */
  type?: string;
  /** The signature counter to report (and keep), instead of counter + counterStep. */
  counter?: number;
  /** Which credential to assert with (base64url id); default: the first one the options allow. */
  credentialId?: string;
  /** Sign with a fresh key instead of the credential's. */
  wrongKey?: boolean;
  /** userHandle to report instead of the credential's. */
  userHandle?: string;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  private readonly options: Required<SoftAuthenticatorOptions>;

  constructor(options: SoftAuthenticatorOptions) {
    this.options = {
      synced: false,
      userVerifying: true,
      residentKeys: true,
      counterStep: 1,
      aaguid: randomUUID(),
      transports: options.synced ? ['hybrid', 'internal'] : ['usb'],
      ...options,
    };
  }

  /** The same authenticator, with copies of its credentials and counters as they are now (a cloned key). */
  clone(): SoftAuthenticator {
    const twin = new SoftAuthenticator(this.options);
    twin.credentials.push(...this.credentials.map((c) => ({ ...c })));
    return twin;
  }

  credential(id: string): SoftCredential {
    const found = this.credentials.find((c) => b64url(c.id) === id);
    if (!found) throw new Error(`no credential ${id} on this authenticator`);
    return found;
  }

  private flags(lie: Ceremony, uvAsked: string | undefined, extra: number): number {
    const uv = lie.userVerified ?? (this.options.userVerifying && uvAsked !== 'discouraged');
    let flags = extra | (lie.userAbsent ? 0 : FLAG.UP) | (uv ? FLAG.UV : 0);
    if (this.options.synced) flags |= FLAG.BE | FLAG.BS;
    return flags;
  }

  private clientData(type: string, challenge: string, lie: Ceremony): Buffer {
    return Buffer.from(JSON.stringify({ type: lie.type ?? type, challenge: lie.challenge ?? challenge, origin: lie.origin ?? this.options.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create(): a new credential, answered as RegistrationResponseJSON. */
  register(options: PublicKeyCredentialCreationOptionsJSON, lie: Ceremony = {}): RegistrationResponseJSON {
    const rpId = options.rp.id!;
    // A real authenticator refuses to make a second credential for an account it already serves.
    const excluded = new Set((options.excludeCredentials ?? []).map((c) => c.id));
    if (this.credentials.some((c) => c.rpId === rpId && excluded.has(b64url(c.id)))) {
      throw Object.assign(new Error('InvalidStateError: the authenticator already holds an excluded credential'), { name: 'InvalidStateError' });
    }
    if (!options.pubKeyCredParams.some((p) => p.alg === -7)) throw new Error('NotSupportedError: ES256 not offered');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cosePublicKey = cbor(
      new Map<number, Cbor>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const residentKey = options.authenticatorSelection?.residentKey;
    const credential: SoftCredential = {
      id: randomBytes(32),
      rpId,
      privateKey,
      cosePublicKey,
      userHandle: Buffer.from(options.user.id, 'base64url'),
      discoverable: this.options.residentKeys && residentKey !== 'discouraged',
      counter: lie.counter ?? 0,
    };
    const aaguid = Buffer.from(this.options.aaguid.replace(/-/g, ''), 'hex');
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      this.authDataHead(lie.rpId ?? rpId, this.flags(lie, options.authenticatorSelection?.userVerification, FLAG.AT), credential.counter),
      aaguid,
      idLength,
      credential.id,
      cosePublicKey,
    ]);
    const attestationObject = cbor(new Map<string, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    this.credentials.push(credential);
    const id = b64url(credential.id);
    return {
      id,
      rawId: id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: this.options.synced ? 'platform' : 'cross-platform',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, lie)),
        attestationObject: b64url(attestationObject),
        transports: this.options.transports,
      },
    };
  }

  /**
   * navigator.credentials.get(): an assertion by the first credential the options allow (with no allow
   * list: the first discoverable credential for the RP ID), answered as AuthenticationResponseJSON.
   */
  authenticate(options: PublicKeyCredentialRequestOptionsJSON, lie: Ceremony = {}): AuthenticationResponseJSON {
    const rpId = options.rpId!;
    const allowed = (options.allowCredentials ?? []).map((c) => c.id);
    const candidates = this.credentials.filter((c) => c.rpId === rpId && (allowed.length ? allowed.includes(b64url(c.id)) : c.discoverable));
    const credential = lie.credentialId ? this.credential(lie.credentialId) : candidates[0];
    if (!credential) throw new Error('NotAllowedError: no credential of this authenticator is allowed');
    credential.counter = lie.counter ?? credential.counter + this.options.counterStep;
    const authData = this.authDataHead(lie.rpId ?? rpId, this.flags(lie, options.userVerification, 0), credential.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, lie);
    const key = lie.wrongKey ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : credential.privateKey;
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key); // DER, as WebAuthn's ES256
    const id = b64url(credential.id);
    const userHandle = lie.userHandle ?? (credential.discoverable ? b64url(credential.userHandle) : undefined);
    return {
      id,
      rawId: id,
      type: 'public-key',
      clientExtensionResults: {},
      authenticatorAttachment: this.options.synced ? 'platform' : 'cross-platform',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle !== undefined ? { userHandle } : {}),
      },
    };
  }

  private authDataHead(rpId: string, flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count]);
  }
}
