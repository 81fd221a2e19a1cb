import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { AppConfig } from '../config/index.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';

/** Longest password accepted, in UTF-8 bytes after NFC normalization; longer ones are refused before hashing. */
export const MAX_PASSWORD_BYTES = 1024;

export class PasswordTooLongError extends Error {
  constructor() {
    super(`password exceeds ${MAX_PASSWORD_BYTES} bytes`);
    this.name = 'PasswordTooLongError';
  }
}

/**
 * The stored hash of an account that has no password yet (an invitation not yet accepted). It is no
 * PHC string, so no password ever matches it.
 */
export const NO_PASSWORD_HASH = '!no-password';

/** Whether a stored hash is a real argon2 hash a password can match. */
export const isUsableHash = (hash: string): boolean => hash.startsWith('$argon2');

/** NFC-normalizes a password; null when it is too long to hash. */
export function normalizePassword(password: string): string | null {
  const normalized = password.normalize('NFC');
  return Buffer.byteLength(normalized, 'utf8') > MAX_PASSWORD_BYTES ? null : normalized;
}

/**
 * argon2id hashing with the configured (OWASP by default) parameters. Hashes are PHC strings, so each
 * carries its own parameters and `needsRehash` can tell when they are out of date.
 */
export class PasswordHasher {
  private readonly options: { type: typeof argon2.argon2id; memoryCost: number; timeCost: number; parallelism: number };
  private dummyHash?: Promise<string>;

  constructor(
    params: AppConfig['argon2'],
    private readonly metrics: Metrics = NO_METRICS,
  ) {
    this.options = { type: argon2.argon2id, ...params };
  }

  /** Runs one argon2 computation, counted in flight (the queue for libuv's threads) and timed when metrics are on. */
  private async measured<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    if (!this.metrics.enabled) return work();
    this.metrics.argon2Started();
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.metrics.argon2Finished(operation, (performance.now() - started) / 1000);
    }
  }

  async hash(password: string): Promise<string> {
    const normalized = normalizePassword(password);
    if (normalized === null) throw new PasswordTooLongError();
    return this.measured('hash', () => argon2.hash(normalized, this.options));
  }

  /** ok: the password matches; rehash: it matches but the hash's parameters are outdated. */
  async verify(hash: string, password: string): Promise<{ ok: boolean; rehash: boolean }> {
    const normalized = normalizePassword(password);
    if (normalized === null) return { ok: false, rehash: false };
    // No usable hash (an invited account): as slow as a real check, and never a match, so sign-in
    // answers exactly as for a wrong password.
    if (!isUsableHash(hash)) {
      await this.burn(password);
      return { ok: false, rehash: false };
    }
    const ok = await this.measured('verify', () => argon2.verify(hash, normalized)).catch(() => false);
    return { ok, rehash: ok && argon2.needsRehash(hash, this.options) };
  }

  /** Spends one verification's worth of time, so an unknown account answers as slowly as a wrong password. */
  async burn(password: string): Promise<void> {
    this.dummyHash ??= this.measured('hash', () => argon2.hash(randomBytes(32).toString('base64url'), this.options));
    await this.verify(await this.dummyHash, password);
  }
}
