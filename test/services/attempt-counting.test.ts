import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { openServices, type Services } from '../../src/services/index.js';
import { AccountStore } from '../../src/stores/sql/accounts.js';
import { AttemptCounterStore } from '../../src/stores/sql/attempt-counters.js';
import { testBackend } from '../helpers/backend.js';

/**
 * Item 7, at the store: the counter of an account and the counter of an address without an account
 * answer every sequence of attempts and pauses identically, and both follow the documented rule
 * (modelled below). Time is explicit here (`now` is an argument), so any sequence can be replayed.
 */
const THRESHOLD = 5;
const WINDOW = 60;

/** The documented rule, as a model: see src/stores/sql/attempt-counting.ts. */
function model() {
  let count = 0;
  let lockedUntil: number | null = null;
  let last: number | null = null;
  return (now: number): boolean => {
    if (lockedUntil !== null && lockedUntil > now) return false;
    const fresh = lockedUntil !== null || last === null || last <= now - WINDOW;
    count = fresh ? 1 : count + 1;
    lockedUntil = count >= THRESHOLD ? now + WINDOW : null;
    last = now;
    return true;
  };
}

const backend = testBackend();
let services: Services;
let accounts: AccountStore;
let unknown: AttemptCounterStore;
let n = 0;
const T0 = 1_900_000_000;

beforeAll(async () => {
  services = await openServices(backend.config());
  accounts = new AccountStore(services.db);
  unknown = new AttemptCounterStore(services.db);
});
afterAll(async () => (await services.close(), await backend.cleanup()));

async function subjects() {
  const id = randomUUID();
  const email = `counted${++n}@example.net`;
  await accounts.create({
    id, email: `known${n}@example.net`, emailVerifiedAt: null, name: null, passwordHash: 'x', status: 'active', passwordChangedAt: T0, createdAt: T0, updatedAt: T0,
    organizationId: null, orgRole: null, mustChangePassword: false, expiryWarningSentFor: null,
    failedAttempts: 0, lockedUntil: null, locale: null, platformAdmin: false,
  });
  const rule = (now: number) => ({ threshold: THRESHOLD, now, windowSeconds: WINDOW });
  return {
    known: (now: number) => accounts.takeAttempt(id, rule(now)),
    unknown: (now: number) => unknown.takeAttempt(email, rule(now)),
  };
}

describe('one counting rule for accounts and unknown addresses', () => {
  it('any sequence of attempts and pauses: identical answers, as documented', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 130 })), { minLength: 1, maxLength: 25 }), async (pauses) => {
        const s = await subjects();
        const expected = model();
        let now = T0;
        for (const pause of pauses) {
          now += pause;
          const want = expected(now);
          expect(await s.known(now)).toBe(want);
          expect(await s.unknown(now)).toBe(want);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('each address without an account has a counter of its own', async () => {
    const [a, b] = [await subjects(), await subjects()];
    for (let i = 0; i < THRESHOLD; i++) expect(await a.unknown(T0)).toBe(true);
    expect(await a.unknown(T0)).toBe(false);
    expect(await b.unknown(T0)).toBe(true);
  });

  it('is atomic for both: of 20 simultaneous attempts exactly 5 are taken', async () => {
    const s = await subjects();
    for (const take of [s.known, s.unknown]) {
      const results = await Promise.all(Array.from({ length: 20 }, () => take(T0)));
      expect(results.filter(Boolean)).toHaveLength(THRESHOLD);
    }
  });

  it('the sweep deletes only lapsed, unlocked counters of unknown addresses', async () => {
    await services.db('attempt_counters').delete(); // counters of the tests above
    const s = await subjects();
    for (let i = 0; i < 4; i++) expect(await s.unknown(T0 + i)).toBe(true);
    expect(await unknown.sweep(T0 + 3 + WINDOW - 1, WINDOW)).toBe(0); // not lapsed yet
    expect(await s.unknown(T0 + 10)).toBe(true); // the fifth locks
    expect(await unknown.sweep(T0 + 10 + WINDOW - 1, WINDOW)).toBe(0); // locked: kept
    expect(await s.unknown(T0 + 11)).toBe(false);
    expect(await unknown.sweep(T0 + 10 + WINDOW, WINDOW)).toBe(1); // lock over: lapsed
    expect(await s.unknown(T0 + 10 + WINDOW)).toBe(true);
  });
});
