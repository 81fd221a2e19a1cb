import { randomUUID } from 'node:crypto';
import { openServices, type Services } from '../../src/services/index.js';
import { Throttle } from '../../src/services/rate-limit.js';
import { nowSeconds } from '../../src/stores/db.js';
import { AccountStore } from '../../src/stores/sql/accounts.js';
import { RecoveryCodeStore } from '../../src/stores/sql/recovery-codes.js';
import { ResetTokenStore } from '../../src/stores/sql/reset-tokens.js';
import { PG_URL, testBackend, type TestBackend } from '../helpers/backend.js';

/**
 * Every single-use thing outside oidc-provider, raced: N simultaneous attempts to use it, exactly one
 * (or exactly the budget) wins. Each store method is one conditional UPDATE, so this holds on PostgreSQL,
 * whose pool runs the statements truly in parallel, as on SQLite. Runs on SQLite always, on PostgreSQL
 * (and Redis, for the throttle) whenever the environment names them.
 */
const N = 16;
const race = <T>(attempt: () => Promise<T>) => Promise.all(Array.from({ length: N }, attempt));
const wins = (results: boolean[]) => results.filter((r) => r === true).length;

const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);

for (const [name, makeBackend] of backends) {
  describe(`single-use records under N=${N} simultaneous uses: ${name}`, () => {
    let backend: TestBackend;
    let services: Services;
    let accounts: AccountStore;
    let accountId: string;
    let n = 0;

    beforeAll(async () => {
      backend = makeBackend();
      services = await openServices(backend.config());
      accounts = new AccountStore(services.db);
    });
    afterAll(async () => {
      await services.close();
      await backend.cleanup();
    });
    beforeEach(async () => {
      accountId = (await services.accounts.create({ email: `single-use-${++n}@example.com`, password: 'Single-Use-Pass-1' })).id;
    });

    it('a password-reset link is used by exactly one request', async () => {
      const tokens = new ResetTokenStore(services.db);
      const now = nowSeconds();
      await tokens.insert('c'.repeat(64), accountId, now, now + 600);
      expect(wins(await race(() => tokens.use('c'.repeat(64), now)))).toBe(1);
      expect((await tokens.find('c'.repeat(64)))?.usedAt).toBe(now);
    });

    it('a recovery code is used by exactly one request', async () => {
      const codes = new RecoveryCodeStore(services.db);
      await codes.replace(accountId, ['d'.repeat(64), 'e'.repeat(64)]);
      expect(wins(await race(() => codes.use(accountId, 'd'.repeat(64), nowSeconds())))).toBe(1);
      expect(await codes.remaining(accountId)).toBe(1);
    });

    it('N simultaneous new sets of recovery codes leave exactly one set, and no code of the old one', async () => {
      const codes = new RecoveryCodeStore(services.db);
      await codes.replace(accountId, ['0'.repeat(64)]);
      const sets = Array.from({ length: N }, (_, i) => Array.from({ length: 10 }, (_, j) => `${i}-${j}`.padEnd(64, 'f')));
      await Promise.all(sets.map((set) => codes.replace(accountId, set)));
      expect(await codes.remaining(accountId)).toBe(10);
      expect(await codes.use(accountId, '0'.repeat(64), nowSeconds())).toBe(false);
      const stored = (await services.db('recovery_codes').where({ account_id: accountId }).pluck('code_hash')) as string[];
      expect(sets.some((set) => [...set].sort().join() === [...stored].sort().join())).toBe(true);
    });

    it('a TOTP time step is accepted by exactly one request, and no earlier step after it', async () => {
      const factors = services.factorStore;
      const id = randomUUID();
      const totp = { id, accountId, kind: 'totp', label: 'Authenticator app', createdAt: nowSeconds(), lastUsedAt: null, secret: 'sealed', lastStep: 100 } as const;
      expect(await factors.addFirst(totp, await factors.generation(accountId))).toBe(true);
      expect(wins(await race(() => factors.advanceTotpStep(id, 101, nowSeconds())))).toBe(1);
      // Steps 102..117 racing: whichever lands, the stored step only moves forward and each step wins at most once.
      const steps = await Promise.all(Array.from({ length: N }, (_, i) => factors.advanceTotpStep(id, 102 + i, nowSeconds())));
      expect(wins(steps)).toBeGreaterThanOrEqual(1);
      expect((await factors.listByAccount(accountId))[0]).toMatchObject({ lastStep: 102 + N - 1 });
      expect(await factors.advanceTotpStep(id, 102 + N - 1, nowSeconds())).toBe(false);
    });

    it('a password-expiry warning is claimed by exactly one node', async () => {
      const { passwordChangedAt } = (await accounts.findById(accountId))!;
      expect(wins(await race(() => accounts.claimExpiryWarning(accountId, passwordChangedAt)))).toBe(1);
    });

    it('a burst of sign-in attempts takes exactly the lockout budget', async () => {
      const threshold = 5;
      const now = nowSeconds();
      expect(wins(await race(() => accounts.takeAttempt(accountId, { threshold, now, windowSeconds: 900 })))).toBe(threshold);
      const locked = (await accounts.findById(accountId))!;
      expect(locked.lockedUntil).toBe(now + 900);
    });

    it('a throttle with one point gives it to exactly one request', async () => {
      const throttle = new Throttle(`race-${n}-${Date.now()}`, 1, 3600, services.redis, backend.env.REDIS_KEY_PREFIX);
      expect(wins(await race(() => throttle.take('same-key')))).toBe(1);
    });
  });
}
