/**
 * The mailed-link store (password resets and invitations): consumption is one conditional update, so
 * of N simultaneous uses exactly one wins, on SQLite and on PostgreSQL; a link of one purpose never
 * works as the other.
 */
import { randomUUID } from 'node:crypto';
import { migrate, nowSeconds, openDb } from '../../src/stores/db.js';
import { ResetTokenStore, type LinkPurpose } from '../../src/stores/sql/reset-tokens.js';
import { PG_URL, testBackend, type TestBackend } from '../helpers/backend.js';

const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);

for (const [name, backend] of backends) {
  describe(`reset-token store on ${name}`, () => {
    let b: TestBackend;
    let db: ReturnType<typeof openDb>;
    let store: ResetTokenStore;
    let accountId: string;

    beforeAll(async () => {
      b = backend();
      const { database } = b.config();
      db = openDb(database);
      await migrate(db, database);
      store = new ResetTokenStore(db);
      accountId = randomUUID();
      const now = nowSeconds();
      await db('accounts').insert({
        id: accountId,
        email: 'store@tokens.example',
        email_domain: 'tokens.example',
        password_hash: '!no-password',
        status: 'active',
        password_changed_at: now,
        created_at: now,
        updated_at: now,
      });
    });
    afterAll(async () => {
      await db.destroy();
      await b.cleanup();
    });

    const fresh = async (purpose: LinkPurpose, ttl = 600) => {
      const hash = randomUUID().replace(/-/g, '').padEnd(64, '0');
      await store.insert(hash, accountId, nowSeconds(), nowSeconds() + ttl, purpose);
      return hash;
    };

    it.each<LinkPurpose>(['reset', 'invitation'])('%s: of 20 simultaneous uses exactly one succeeds', async (purpose) => {
      const hash = await fresh(purpose);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.use(hash, nowSeconds(), purpose)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.use(hash, nowSeconds(), purpose)).toBe(false);
    });

    it('an expired link cannot be used', async () => {
      const hash = await fresh('invitation', -1);
      expect(await store.use(hash, nowSeconds(), 'invitation')).toBe(false);
    });

    it('a link is found and used only under its own purpose', async () => {
      const invitation = await fresh('invitation');
      expect(await store.find(invitation, 'reset')).toBeUndefined();
      expect(await store.use(invitation, nowSeconds(), 'reset')).toBe(false);
      expect(await store.find(invitation, 'invitation')).toMatchObject({ purpose: 'invitation', usedAt: null });
      const reset = await fresh('reset');
      expect(await store.use(reset, nowSeconds(), 'invitation')).toBe(false);
      expect(await store.use(reset, nowSeconds(), 'reset')).toBe(true);
    });

    it('a new password (useAll) ends every outstanding link of the account, invitations included', async () => {
      const invitation = await fresh('invitation');
      const reset = await fresh('reset');
      await store.useAll(accountId, nowSeconds());
      expect(await store.use(invitation, nowSeconds(), 'invitation')).toBe(false);
      expect(await store.use(reset, nowSeconds(), 'reset')).toBe(false);
    });
  });
}
