import argon2 from 'argon2';
import { normalizeEmail } from '../../src/services/accounts.js';
import { ConflictError, ValidationError } from '../../src/services/errors.js';
import { openServices, type Services } from '../../src/services/index.js';
import { testBackend } from '../helpers/backend.js';

describe('normalizeEmail', () => {
  it.each([
    ['Alice@Example.COM', 'alice@example.com'],
    ['  bob@example.com ', 'bob@example.com'],
    ['zoë@bücher.example', 'zoë@xn--bcher-kva.example'],
    ['a@b.co', 'a@b.co'],
  ])('%s → %s', (input, expected) => expect(normalizeEmail(input)).toBe(expected));

  it.each(['', 'no-at-sign', '@example.com', 'alice@', 'alice@@example.com', 'a b@example.com'])('rejects %j', (input) => {
    expect(normalizeEmail(input)).toBeNull();
  });
});

describe('accounts', () => {
  const backend = testBackend();
  let services: Services;
  beforeAll(async () => (services = await openServices(backend.config())));
  afterAll(async () => (await services.close(), await backend.cleanup()));

  it('creates an account with an argon2id hash and a normalized email', async () => {
    const a = await services.accounts.create({ email: 'Carol@Example.com', password: 'Pass-word-1', name: ' Carol ' });
    expect(a).toMatchObject({ email: 'carol@example.com', name: 'Carol', status: 'active' });
    expect(a.passwordHash).toMatch(/^\$argon2id\$/);
    expect(a.passwordChangedAt).toBe(a.createdAt);
  });

  it('refuses a second account for the same address in any case', async () => {
    await services.accounts.create({ email: 'dave@example.com', password: 'Pass-word-1' });
    await expect(services.accounts.create({ email: 'DAVE@example.com', password: 'Pass-word-2' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('reports every invalid field at once', async () => {
    const err = await services.accounts.create({ email: 'nope', password: '', name: 'x'.repeat(201) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors.map((e) => e.field)).toEqual(['email', 'password', 'name']);
  });

  it('authenticates whatever the email case, and refuses wrong passwords and unknown emails alike', async () => {
    const erin = await services.accounts.create({ email: 'erin@example.com', password: 'Pass-word-1' });
    expect(await services.accounts.authenticate('ERIN@example.com', 'Pass-word-1')).toMatchObject({ ok: true });
    // The same answer; the account is named for its audit trail only.
    expect(await services.accounts.authenticate('erin@example.com', 'Pass-word-2')).toEqual({ ok: false, reason: 'invalid', accountId: erin.id });
    expect(await services.accounts.authenticate('nobody@example.com', 'Pass-word-1')).toEqual({ ok: false, reason: 'invalid' });
    expect(await services.accounts.authenticate('not an email', 'Pass-word-1')).toEqual({ ok: false, reason: 'invalid' });
  });

  it('rehashes on sign-in when the stored hash has old parameters, keeping the password age', async () => {
    const a = await services.accounts.create({ email: 'frank@example.com', password: 'Pass-word-1' });
    const weak = await argon2.hash('Pass-word-1', { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await services.db('accounts').where({ id: a.id }).update({ password_hash: weak });
    expect((await services.accounts.authenticate('frank@example.com', 'Pass-word-1')).ok).toBe(true);
    const after = await services.accounts.findById(a.id);
    expect(after!.passwordHash).toMatch(/^\$argon2id\$v=19\$(?=[^$]*\bm=19456\b)(?=[^$]*\bt=2\b)(?=[^$]*\bp=1\b)/); // the configured parameters, in either order
    expect(after!.passwordChangedAt).toBe(a.passwordChangedAt);
    expect((await services.accounts.authenticate('frank@example.com', 'Pass-word-1')).ok).toBe(true);
  });

  it('refuses a disabled account with the same answer as a wrong password', async () => {
    const a = await services.accounts.create({ email: 'gina@example.com', password: 'Pass-word-1' });
    await services.db('accounts').where({ id: a.id }).update({ status: 'disabled' });
    expect(await services.accounts.authenticate('gina@example.com', 'Pass-word-1')).toEqual({ ok: false, reason: 'invalid', accountId: a.id });
  });
});
