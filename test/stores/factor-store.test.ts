import { randomUUID } from 'node:crypto';
import { migrate, openDb } from '../../src/stores/db.js';
import { SqlFactorStore } from '../../src/stores/sql/factors.js';
import { PG_URL, testBackend, type TestBackend } from '../helpers/backend.js';
import { factorStoreContract } from './factor-store.contract.js';

async function openSql(backend: TestBackend) {
  const { database } = backend.config();
  const db = openDb(database);
  await migrate(db, database);
  return {
    store: new SqlFactorStore(db),
    async newAccount() {
      const id = randomUUID();
      await db('accounts').insert({ id, email: `${id}@example.com`, email_domain: 'example.com', password_hash: 'x', password_changed_at: 1, created_at: 1, updated_at: 1 });
      return id;
    },
    async deleteAccount(id: string) {
      await db('accounts').where({ id }).delete();
    },
    close: async () => (await db.destroy(), await backend.cleanup()),
  };
}

/** SQLite always; PostgreSQL whenever DATABASE_URL names it (as .ci/run does). */
const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);

for (const [name, backend] of backends) factorStoreContract(name, () => openSql(backend()));
