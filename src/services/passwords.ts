import { randomBytes } from 'node:crypto';
import { hash as argon2Hash, parseOptions, verify as argon2Verify, type Algorithm, type Options } from '@node-rs/argon2';
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

/** @node-rs/argon2's Algorithm.Argon2id and Version.V0x13 (const enums, which isolated modules cannot read). */
const ARGON2ID = 2 as Algorithm;
const VERSION_0X13 = 1;

/**
 * argon2id hashing with the configured (OWASP by default) parameters, by @node-rs/argon2: it verifies the
 * same PHC strings as the `argon2` package at about 2.8–3× the rate on this hardware (`npm run bench`
 * measures both), and each library accepts the other's hashes. Hashes carry their own parameters, so
 * outdated ones are recognised (`needsRehash`) and replaced at the next right password.
 */
export class PasswordHasher {
  private readonly options: Options & { memoryCost: number; timeCost: number; parallelism: number };
  private dummyHash?: Promise<string>;

  constructor(
    params: AppConfig['argon2'],
    private readonly metrics: Metrics = NO_METRICS,
  ) {
    this.options = { algorithm: ARGON2ID, ...params };
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
    return this.measured('hash', () => argon2Hash(normalized, this.options));
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
    const ok = await this.measured('verify', () => argon2Verify(hash, normalized)).catch(() => false);
    return { ok, rehash: ok && this.needsRehash(hash) };
  }

  /** Whether a hash was made with other parameters (or another variant or version) than the configured ones. */
  private needsRehash(hash: string): boolean {
    try {
      const p = parseOptions(hash);
      const { memoryCost, timeCost, parallelism } = this.options;
      return p.algorithm !== ARGON2ID || p.version !== VERSION_0X13 || p.memoryCost !== memoryCost || p.timeCost !== timeCost || p.parallelism !== parallelism;
    } catch {
      return true;
    }
  }

  /** Spends one verification's worth of time, so an unknown account answers as slowly as a wrong password. */
  async burn(password: string): Promise<void> {
    this.dummyHash ??= this.measured('hash', () => argon2Hash(randomBytes(32).toString('base64url'), this.options));
    await this.verify(await this.dummyHash, password);
  }
}
