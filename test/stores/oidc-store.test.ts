import { migrate, openDb } from '../../src/stores/db.js';
import { RedisOidcStore } from '../../src/stores/redis/oidc-store.js';
import { SqlOidcStore } from '../../src/stores/sql/oidc-store.js';
import { connectRedis, dropRedisPrefix, PG_URL, REDIS_URL, testBackend, type TestBackend } from '../helpers/backend.js';
import { oidcStoreContract } from './oidc-store.contract.js';

async function openSql(backend: TestBackend) {
  const { database } = backend.config();
  const db = openDb(database);
  await migrate(db, database);
  return { db, store: new SqlOidcStore(db), close: async () => (await db.destroy(), await backend.cleanup()) };
}

/** SQL on SQLite always; SQL on PostgreSQL and Redis whenever the environment points at them (as .ci/run does). */
const sqlBackends: Array<[string, () => TestBackend]> = [['SQL on SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) sqlBackends.push(['SQL on PostgreSQL', () => testBackend()]);

for (const [name, backend] of sqlBackends) {
  oidcStoreContract(name, () => openSql(backend()));

  test(`${name}: sweep deletes expired rows and only those`, async () => {
    const { db, store, close } = await openSql(backend());
    try {
      await store.upsert('AccessToken', 'old', { accountId: 'a' }, 1);
      await store.upsert('AccessToken', 'new', { accountId: 'a' }, 600);
      await db('oidc_payloads').where({ id: 'old' }).update({ expires_at: 1 });
      expect(await store.sweep()).toBe(1);
      expect(await db('oidc_payloads').pluck('id')).toEqual(['new']);
    } finally {
      await close();
    }
  });
}

if (REDIS_URL) {
  oidcStoreContract('Redis', async () => {
    const prefix = `gh:contract:${process.pid}:${Date.now()}:`;
    const redis = await connectRedis(REDIS_URL!);
    return {
      store: new RedisOidcStore(redis, prefix),
      close: async () => {
        await redis.quit();
        await dropRedisPrefix(REDIS_URL!, prefix);
      },
    };
  });
}

test('expired reset links are swept, live ones kept', async () => {
  const backend = testBackend();
  const { openServices } = await import('../../src/services/index.js');
  const services = await openServices(backend.config());
  try {
    const account = await services.accounts.create({ email: 'links@example.com', password: 'Sweep-Pass-1' });
    await services.resetTokens.insert('a'.repeat(64), account.id, 1, 100);
    await services.resetTokens.insert('b'.repeat(64), account.id, 1, Math.floor(Date.now() / 1000) + 600);
    expect(await services.resetTokens.sweep(Math.floor(Date.now() / 1000) - 86400)).toBe(1);
    expect(await services.db('password_reset_tokens').pluck('token_hash')).toEqual(['b'.repeat(64)]);
  } finally {
    await services.close();
    await backend.cleanup();
  }
});
