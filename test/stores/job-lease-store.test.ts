import { migrate, openDb, type Db } from '../../src/stores/db.js';
import { SqlJobLeaseStore } from '../../src/stores/sql/job-leases.js';
import { PG_URL, testBackend, type TestBackend } from '../helpers/backend.js';
import { jobLeaseStoreContract } from './job-lease-store.contract.js';

/** Five connections to one database, each its own knex (own pool), as five nodes would be. */
async function openSql(backend: TestBackend) {
  const { database } = backend.config();
  const first = openDb(database);
  await migrate(first, database);
  const dbs: Db[] = [first, ...Array.from({ length: 4 }, () => openDb(database))];
  return {
    stores: dbs.map((db) => new SqlJobLeaseStore(db)),
    close: async () => {
      await Promise.all(dbs.map((db) => db.destroy()));
      await backend.cleanup();
    },
  };
}

/** SQLite always; PostgreSQL whenever DATABASE_URL names it (as .ci/run does). */
const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);

for (const [name, backend] of backends) jobLeaseStoreContract(name, () => openSql(backend()));
