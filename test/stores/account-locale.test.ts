import { randomUUID } from 'node:crypto';
import { AccountStore, type AccountRecord } from '../../src/stores/sql/accounts.js';
import { migratedDb, sqlBackends } from '../helpers/backend.js';

/**
 * The language of an account's mails (accounts.locale, migration 20261128000040_account_locale): null
 * until set, written only when it changes, and for the one account named.
 */
for (const [name, makeBackend] of sqlBackends()) {
  describe(`the account's language: ${name}`, () => {
    const database = migratedDb(makeBackend);
    let accounts: AccountStore;
    let n = 0;

    beforeAll(() => {
      accounts = new AccountStore(database());
    });

    async function account(locale: string | null = null): Promise<AccountRecord> {
      const record: AccountRecord = {
        id: randomUUID(), email: `lang${++n}@example.net`, emailVerifiedAt: null, name: null, passwordHash: 'x', status: 'active',
        passwordChangedAt: 1, createdAt: 1, updatedAt: 1, organizationId: null, orgRole: null, mustChangePassword: false,
        expiryWarningSentFor: null, failedAttempts: 0, lockedUntil: null, locale, platformAdmin: false,
      };
      await accounts.create(record);
      return record;
    }

    it('is null on a new account, and kept as created', async () => {
      const plain = await account();
      const vi = await account('vi');
      expect((await accounts.findById(plain.id))!.locale).toBeNull();
      expect((await accounts.findByEmail(vi.email))!.locale).toBe('vi');
    });

    it('is written only when it changes, for that account only, without touching updated_at', async () => {
      const a = await account();
      const other = await account();
      expect(await accounts.setLocale(a.id, 'vi')).toBe(true);
      expect(await accounts.setLocale(a.id, 'vi')).toBe(false);
      expect((await accounts.findById(a.id))!).toMatchObject({ locale: 'vi', updatedAt: 1 });
      expect(await accounts.setLocale(a.id, 'en')).toBe(true);
      expect((await accounts.findById(a.id))!.locale).toBe('en');
      expect((await accounts.findById(other.id))!.locale).toBeNull();
      expect(await accounts.setLocale(randomUUID(), 'vi')).toBe(false);
    });

    it('comes with the accounts every other read returns (the expiry job reads unwarnedOlderThan)', async () => {
      const a = await account('vi');
      expect((await accounts.unwarnedOlderThan(10)).find((r) => r.id === a.id)?.locale).toBe('vi');
      expect((await accounts.list({ email: a.email, limit: 1 }))[0]!.locale).toBe('vi');
    });
  });
}
