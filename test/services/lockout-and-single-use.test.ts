/**
 * Lockout counting and single-use consumption at the service and store level: fast (no HTTP, cheap
 * argon2 parameters), so mutation testing (`MUTATION_SCOPE=tokens npm run mutation`) can run them for
 * every mutant. The sign-in pages test the same rules end to end in test/login-security and test/bite.
 */
import { randomUUID } from 'node:crypto';
import { openServices, type Services } from '../../src/services/index.js';
import { AccountStore } from '../../src/stores/sql/accounts.js';
import { RecoveryCodeStore } from '../../src/stores/sql/recovery-codes.js';
import { ResetTokenStore } from '../../src/stores/sql/reset-tokens.js';
import { nowSeconds } from '../../src/stores/db.js';
import { testBackend } from '../helpers/backend.js';

const LOCKOUT_MINUTES = 7;
const PASSWORD = 'Right-Pass-1';
const backend = testBackend();
let services: Services;
let store: AccountStore;
let n = 0;

beforeAll(async () => {
  services = await openServices(backend.config({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', LOCKOUT_MINUTES: String(LOCKOUT_MINUTES) }));
  store = new AccountStore(services.db);
});
afterAll(async () => (await services.close(), await backend.cleanup()));

const account = async (email = `l${++n}@lockout.example`) => services.accounts.create({ email, password: PASSWORD });
const row = async (id: string) => (await store.findById(id))!;
/** One attempt at `now` whose lock, if it locks, lasts until `until` (the counting rule's window). */
const take = (id: string, threshold: number, now: number, until: number) => store.takeAttempt(id, { threshold, now, windowSeconds: until - now });

describe('AccountStore: attempts', () => {
  it('counts up to the threshold, locks on the attempt that reaches it, then gives no more', async () => {
    const { id } = await account();
    const now = 1_000_000;
    for (let i = 1; i <= 4; i++) {
      expect(await take(id, 5, now, now + 900)).toBe(true);
      expect(await row(id)).toMatchObject({ failedAttempts: i, lockedUntil: null });
    }
    expect(await take(id, 5, now, now + 900)).toBe(true);
    expect(await row(id)).toMatchObject({ failedAttempts: 5, lockedUntil: now + 900 });
    expect(await take(id, 5, now + 1, now + 901)).toBe(false);
    expect(await take(id, 5, now + 899, now + 1799)).toBe(false); // a second before the end
    expect(await row(id)).toMatchObject({ failedAttempts: 5, lockedUntil: now + 900 });
  });

  it('an expired lock starts the count afresh at one, from the moment it ends', async () => {
    const { id } = await account();
    const now = 2_000_000;
    for (let i = 0; i < 5; i++) await take(id, 5, now, now + 900);
    expect(await take(id, 5, now + 900, now + 1800)).toBe(true); // ends at now + 900 exactly
    expect(await row(id)).toMatchObject({ failedAttempts: 1, lockedUntil: null });
    for (let i = 2; i <= 4; i++) expect(await take(id, 5, now + 900, now + 1800)).toBe(true);
    expect(await row(id)).toMatchObject({ failedAttempts: 4, lockedUntil: null });
  });

  it('honours the threshold it is given', async () => {
    const { id } = await account();
    for (let i = 0; i < 3; i++) expect(await take(id, 3, 10, 20)).toBe(true);
    expect(await row(id)).toMatchObject({ failedAttempts: 3, lockedUntil: 20 });
    expect(await take(id, 3, 11, 21)).toBe(false);
  });

  it('gives nothing for an unknown account', async () => {
    expect(await take('no-such-account', 5, 10, 20)).toBe(false);
  });

  it('refunds one attempt (lifting a lock), never below zero; clears all', async () => {
    const { id } = await account();
    for (let i = 0; i < 5; i++) await take(id, 5, 10, 20);
    await store.refundAttempt(id);
    expect(await row(id)).toMatchObject({ failedAttempts: 4, lockedUntil: null });
    await store.clearAttempts(id);
    expect(await row(id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
    await store.refundAttempt(id);
    expect((await row(id)).failedAttempts).toBe(0);
    const other = await account();
    await take(other.id, 5, 10, 20);
    await take(id, 5, 10, 20);
    await store.clearAttempts(id);
    await store.refundAttempt(id);
    expect((await row(other.id)).failedAttempts).toBe(1); // only the account named
  });
});

describe('AccountService: sign-in counting', () => {
  it('the fifth wrong password locks for LOCKOUT_MINUTES; then even the right one is refused', async () => {
    const a = await account();
    for (let i = 0; i < 5; i++) expect(await services.accounts.authenticate(a.email, 'Wrong-Pass-1')).toEqual({ ok: false, reason: 'invalid', accountId: a.id });
    const locked = await row(a.id);
    expect(locked.lockedUntil! - nowSeconds()).toBeGreaterThan(LOCKOUT_MINUTES * 60 - 60);
    expect(locked.lockedUntil! - nowSeconds()).toBeLessThanOrEqual(LOCKOUT_MINUTES * 60);
    // The refusal says when the lock ends (the page turns it into "try again in N minutes").
    expect(await services.accounts.authenticate(a.email, PASSWORD)).toEqual({ ok: false, reason: 'locked', lockedUntil: locked.lockedUntil, accountId: a.id });
    await services.accounts.unlock(a.id);
    expect(await services.accounts.authenticate(a.email, PASSWORD)).toMatchObject({ ok: true });
  });

  it('a right password clears the count when no second factor follows', async () => {
    const a = await account();
    for (let i = 0; i < 3; i++) await services.accounts.authenticate(a.email, 'Wrong-Pass-1');
    expect(await services.accounts.authenticate(a.email.toUpperCase(), PASSWORD)).toMatchObject({ ok: true, account: { id: a.id } });
    expect((await row(a.id)).failedAttempts).toBe(0);
  });

  it('with a second factor to come, a right password gives back only its own attempt', async () => {
    const a = await account();
    const totp = { id: randomUUID(), accountId: a.id, kind: 'totp', label: 'Authenticator app', createdAt: 1, lastUsedAt: null, secret: 'sealed', lastStep: null } as const;
    expect(await services.factorStore.addFirst(totp, await services.factorStore.generation(a.id))).toBe(true);
    for (let i = 0; i < 3; i++) await services.accounts.authenticate(a.email, 'Wrong-Pass-1');
    expect(await services.accounts.authenticate(a.email, PASSWORD)).toMatchObject({ ok: true });
    expect((await row(a.id)).failedAttempts).toBe(3);
    expect(await services.accounts.takeAttempt(await row(a.id))).toBe(true); // a wrong code
    expect(await services.accounts.takeAttempt(await row(a.id))).toBe(true);
    expect(await row(a.id)).toMatchObject({ failedAttempts: 5, lockedUntil: expect.any(Number) });
    expect(await services.accounts.takeAttempt(await row(a.id))).toBe(false);
    await services.accounts.clearAttempts(a.id);
    expect(await row(a.id)).toMatchObject({ failedAttempts: 0, lockedUntil: null });
  });

  it('a disabled account with the right password is "invalid" and still counts', async () => {
    const a = await account();
    await services.accounts.setStatus(a.id, 'disabled');
    expect(await services.accounts.authenticate(a.email, PASSWORD)).toEqual({ ok: false, reason: 'invalid', accountId: a.id });
    expect((await row(a.id)).failedAttempts).toBe(1);
  });

  it('unknown and malformed addresses are refused alike; an unknown address is locked after 5', async () => {
    expect(await services.accounts.authenticate('not an address', PASSWORD)).toEqual({ ok: false, reason: 'invalid' });
    for (let i = 0; i < 5; i++) expect(await services.accounts.authenticate('ghost@lockout.example', PASSWORD)).toEqual({ ok: false, reason: 'invalid' });
    const ghost = await services.accounts.authenticate('ghost@lockout.example', PASSWORD);
    expect(ghost).toEqual({ ok: false, reason: 'locked', lockedUntil: expect.any(Number) });
    // Told like an account's: when the lock ends, within LOCKOUT_MINUTES from now.
    const left = (ghost as { lockedUntil: number }).lockedUntil - nowSeconds();
    expect(left).toBeGreaterThan(LOCKOUT_MINUTES * 60 - 60);
    expect(left).toBeLessThanOrEqual(LOCKOUT_MINUTES * 60);
  });
});

describe('single-use reset tokens', () => {
  it('a token is used once, only before it expires; useAll ends every open link of one account', async () => {
    const tokens = new ResetTokenStore(services.db);
    const a = await account();
    const b = await account();
    await tokens.insert('t-once', a.id, 100, 200);
    expect(await tokens.find('t-once')).toEqual({ tokenHash: 't-once', accountId: a.id, expiresAt: 200, usedAt: null, purpose: 'reset' });
    expect(await tokens.use('t-once', 199)).toBe(true);
    expect(await tokens.use('t-once', 199)).toBe(false);
    expect((await tokens.find('t-once'))!.usedAt).toBe(199);

    await tokens.insert('t-late', a.id, 100, 200);
    expect(await tokens.use('t-late', 200)).toBe(false); // expired at 200
    expect(await tokens.use('no-such-token', 100)).toBe(false);

    await tokens.insert('t-a1', a.id, 100, 500);
    await tokens.insert('t-a2', a.id, 100, 500);
    await tokens.insert('t-b', b.id, 100, 500);
    await tokens.useAll(a.id, 300);
    expect(await tokens.use('t-a1', 301)).toBe(false);
    expect(await tokens.use('t-a2', 301)).toBe(false);
    expect((await tokens.find('t-once'))!.usedAt).toBe(199); // an already used link keeps its time
    expect(await tokens.use('t-b', 301)).toBe(true);

    expect(await tokens.sweep(500)).toBe(2); // t-once and t-late expired at 200; the rest at 500 stay
    expect(await tokens.find('t-late')).toBeUndefined();
    expect(await tokens.find('t-a1')).toBeDefined();
  });

  it('of N simultaneous uses exactly one wins', async () => {
    const tokens = new ResetTokenStore(services.db);
    const a = await account();
    await tokens.insert('t-race', a.id, 100, 10_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => tokens.use('t-race', 200)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('single-use recovery codes', () => {
  it('each code works once, for its own account only; replace and clear start over', async () => {
    const codes = new RecoveryCodeStore(services.db);
    const a = await account();
    const b = await account();
    await codes.replace(a.id, ['h1', 'h2', 'h3']);
    await codes.replace(b.id, ['h9']);
    expect(await codes.remaining(a.id)).toBe(3);
    expect(await codes.use(a.id, 'h1', 10)).toBe(true);
    expect(await codes.use(a.id, 'h1', 11)).toBe(false);
    expect(await codes.use(a.id, 'h9', 11)).toBe(false); // b's code
    expect(await codes.use(a.id, 'nope', 11)).toBe(false);
    expect(await codes.remaining(a.id)).toBe(2);
    const results = await Promise.all(Array.from({ length: 10 }, () => codes.use(a.id, 'h2', 12)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await codes.remaining(a.id)).toBe(1);

    await codes.replace(a.id, ['n1', 'n2']);
    expect(await codes.remaining(a.id)).toBe(2);
    expect(await codes.use(a.id, 'h3', 13)).toBe(false); // the old set is gone
    await codes.clear(a.id);
    expect(await codes.remaining(a.id)).toBe(0);
    expect(await codes.remaining(b.id)).toBe(1);
  });
});
