import { generateKeyPair, exportJWK, calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningKeyRecord, SigningKeyStore } from '../stores/sql/signing-keys.js';
import type { Db } from '../stores/db.js';
import { nowSeconds } from '../stores/db.js';

async function newKey(state: SigningKeyRecord['state'], now: number): Promise<SigningKeyRecord> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk: JWK = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, state, privateJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' }, createdAt: now, stateChangedAt: now };
}

/**
 * Signing keys, kept in the database. One key signs (`current`); one is published ahead of use
 * (`next`), so relying parties and other nodes already know it when it starts signing; `retired` keys
 * stay published for verification until every token they signed has expired.
 */
export class KeyService {
  private readonly rotated: Array<() => Promise<unknown>> = [];

  constructor(
    private readonly keys: SigningKeyStore,
    /** How long a retired key stays published: the longest lifetime of anything it signed. */
    private readonly retireAfterSeconds: number,
  ) {}

  /** Creates the current and next keys on first start; returns the JWKS to hand to oidc-provider. */
  async ensure(): Promise<{ keys: JWK[] }> {
    await this.keys.transaction(async (trx) => {
      const existing = await this.keys.list(trx);
      const now = nowSeconds();
      if (!existing.some((k) => k.state === 'current')) await this.keys.insert(await newKey('current', now), trx);
      if (!existing.some((k) => k.state === 'next')) await this.keys.insert(await newKey('next', now), trx);
    });
    return this.jwks();
  }

  /** The keystore in oidc-provider's order: the first key of an algorithm signs, the rest verify. */
  async jwks(db?: Db): Promise<{ keys: JWK[] }> {
    const order = { current: 0, next: 1, retired: 2 } as const;
    const keys = (await this.keys.list(db)).sort((a, b) => order[a.state] - order[b.state] || b.createdAt - a.createdAt);
    return { keys: keys.map((k) => k.privateJwk as JWK) };
  }

  /** The keys' public facts (never their private material): the current key, the next, then the retired, most recently retired first. */
  async list(): Promise<Array<{ kid: string; alg: string; state: SigningKeyRecord['state']; createdAt: number; stateChangedAt: number }>> {
    const order = { current: 0, next: 1, retired: 2 } as const;
    const keys = (await this.keys.list()).sort((a, b) => order[a.state] - order[b.state] || b.stateChangedAt - a.stateChangedAt || a.kid.localeCompare(b.kid));
    return keys.map((k) => ({ kid: k.kid, alg: String(k.privateJwk.alg ?? 'RS256'), state: k.state, createdAt: k.createdAt, stateChangedAt: k.stateChangedAt }));
  }

  /** Runs `listener` after each rotation made through this service, once it is committed (the server applies the new keys at once). */
  onRotated(listener: () => Promise<unknown>): void {
    this.rotated.push(listener);
  }

  /**
   * next → current, current → retired, a fresh next; retired keys older than the retention go.
   * This node applies the new order at once (onRotated); every other node within KEYS_REFRESH_SECONDS,
   * signing meanwhile with a key every node publishes (provider/signing-keys.ts).
   */
  async rotate(): Promise<{ current: string; next: string; retired: string[]; removed: string[] }> {
    const result = await this.keys.transaction(async (trx) => {
      const now = nowSeconds();
      const existing = await this.keys.list(trx);
      const current = existing.find((k) => k.state === 'current');
      const next = existing.find((k) => k.state === 'next') ?? (await newKey('next', now));
      if (!existing.includes(next)) await this.keys.insert(next, trx);
      if (current) await this.keys.setState(current.kid, 'retired', now, trx);
      await this.keys.setState(next.kid, 'current', now, trx);
      const fresh = await newKey('next', now);
      await this.keys.insert(fresh, trx);
      const removed = existing
        .filter((k) => k.state === 'retired' && k.stateChangedAt + this.retireAfterSeconds <= now)
        .map((k) => k.kid);
      for (const kid of removed) await this.keys.remove(kid, trx);
      const retired = existing.filter((k) => k.state === 'retired' && !removed.includes(k.kid)).map((k) => k.kid);
      if (current) retired.push(current.kid);
      return { current: next.kid, next: fresh.kid, retired, removed };
    });
    await Promise.all(this.rotated.map((listener) => listener()));
    return result;
  }
}
