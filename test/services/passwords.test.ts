import argon2 from 'argon2';
import { jest } from '@jest/globals';
import { MAX_PASSWORD_BYTES, NO_PASSWORD_HASH, PasswordHasher, PasswordTooLongError } from '../../src/services/passwords.js';

const OWASP = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('password hashing', () => {
  const hasher = new PasswordHasher(OWASP);

  it('hashes with argon2id and the configured parameters, in PHC format', async () => {
    const hash = await hasher.hash('Correct-Horse-9');
    // PHC: $argon2id$v=19$<m, t and p in either order>$salt$hash
    expect(hash).toMatch(/^\$argon2id\$v=19\$(?=[^$]*\bm=19456\b)(?=[^$]*\bt=2\b)(?=[^$]*\bp=1\b)[mtp=\d,]+\$[\w+/]+\$[\w+/]+$/);
    expect(await hasher.verify(hash, 'Correct-Horse-9')).toEqual({ ok: true, rehash: false });
    expect(await hasher.verify(hash, 'correct-horse-9')).toEqual({ ok: false, rehash: false });
  });

  it('the placeholder of an account without a password (invited) matches nothing, not even itself, and costs a real verification', async () => {
    const burn = jest.spyOn(hasher, 'burn');
    for (const attempt of [NO_PASSWORD_HASH, '', 'Any-Pass-1']) expect(await hasher.verify(NO_PASSWORD_HASH, attempt)).toEqual({ ok: false, rehash: false });
    // Each check spent one argon2 verification of the dummy hash, as for an unknown account.
    expect(burn).toHaveBeenCalledTimes(3);
    burn.mockRestore();
  });

  it('NFC-normalizes, so composed and decomposed spellings are the same password', async () => {
    const composed = 'Caf\u00e9-Passw0rd';
    const decomposed = 'Cafe\u0301-Passw0rd';
    expect(composed).not.toBe(decomposed);
    const hash = await hasher.hash(decomposed);
    expect((await hasher.verify(hash, composed)).ok).toBe(true);
  });

  it(`refuses more than ${MAX_PASSWORD_BYTES} bytes before hashing`, async () => {
    await expect(hasher.hash('a'.repeat(MAX_PASSWORD_BYTES + 1))).rejects.toBeInstanceOf(PasswordTooLongError);
    await expect(hasher.hash('é'.repeat(513))).rejects.toBeInstanceOf(PasswordTooLongError); // 1026 bytes, 513 characters
    expect(await hasher.hash('a'.repeat(MAX_PASSWORD_BYTES))).toMatch(/^\$argon2id/);
    const hash = await hasher.hash('short-Pass1');
    expect(await hasher.verify(hash, 'x'.repeat(10_000))).toEqual({ ok: false, rehash: false });
  });

  it('asks for a rehash when the parameters changed', async () => {
    const old = await argon2.hash('Correct-Horse-9', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    expect(await hasher.verify(old, 'Correct-Horse-9')).toEqual({ ok: true, rehash: true });
  });

  it('accepts the hashes stored by the `argon2` package (before the switch to @node-rs/argon2), without a rehash at the same parameters; `argon2` accepts its hashes', async () => {
    const stored = await argon2.hash('Correct-Horse-9', { type: argon2.argon2id, ...OWASP });
    expect(await hasher.verify(stored, 'Correct-Horse-9')).toEqual({ ok: true, rehash: false });
    expect(await hasher.verify(stored, 'Correct-Horse-8')).toEqual({ ok: false, rehash: false });
    const ours = await hasher.hash('Correct-Horse-9');
    expect(await argon2.verify(ours, 'Correct-Horse-9')).toBe(true);
    expect(await argon2.verify(ours, 'Correct-Horse-8')).toBe(false);
    expect(argon2.needsRehash(ours, OWASP)).toBe(false);
  });

  it('asks for a rehash of another variant or version (argon2i, argon2d)', async () => {
    for (const type of [argon2.argon2i, argon2.argon2d] as const) {
      const other = await argon2.hash('Correct-Horse-9', { type, ...OWASP });
      expect(await hasher.verify(other, 'Correct-Horse-9')).toEqual({ ok: true, rehash: true });
    }
  });

  it('treats a malformed stored hash as a failed check, not a crash', async () => {
    expect(await hasher.verify('not-a-hash', 'anything')).toEqual({ ok: false, rehash: false });
  });
});
