import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { generate, generateSecret } from 'otplib';
import { migrationSource } from '../../migrations/index.js';
import { openServices } from '../../src/services/index.js';
import { SecretBox } from '../../src/services/secret-box.js';
import { openDb } from '../../src/stores/db.js';
import { PG_URL, testBackend, type TestBackend } from '../helpers/backend.js';

/**
 * Migration 20261128000014 moves every TOTP from its accounts columns into the factors table and drops
 * the columns, losing no seed: a database as the code before it left it (an enrolled account with a
 * sealed seed, recovery codes, password history), migrated up, verifies a code from that seed through
 * TwoFactorService, keeps every row that references the account, and has no TOTP columns on accounts.
 * Down puts the TOTP back on the account. SQLite always; PostgreSQL when DATABASE_URL names it.
 */
const BEFORE = '20261128000013_policy_documents';
const TOTP_COLUMNS = ['totp_secret', 'totp_last_step', 'totp_enabled_at'];
const request = { ip: null, userAgent: null };
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/** The migrations up to and including `last`, as an older release shipped them. */
const upTo = (last: string): Knex.MigrationSource<string> => ({
  ...migrationSource,
  getMigrations: async () => (await migrationSource.getMigrations([])).filter((name) => name <= last),
});

const backends: Array<[string, () => TestBackend]> = [['SQLite', () => testBackend({ embedded: true })]];
if (PG_URL) backends.push(['PostgreSQL', () => testBackend()]);

for (const [name, makeBackend] of backends) {
  test(`${name}: TOTP seeds move into factors; a code from a migrated seed verifies; down restores them`, async () => {
    const backend = makeBackend();
    const dataKey = randomBytes(32).toString('base64url');
    const config = backend.config({ DATA_ENCRYPTION_KEY: dataKey });
    const schemaName = config.database.kind === 'postgres' ? config.database.schema : undefined;
    const box = new SecretBox(dataKey);
    const seed = generateSecret();
    const sealed = box.seal(seed);
    const enrolledAt = 1_790_000_000;
    const oldStep = stepNow() - 10;
    const enrolled = randomUUID();
    const plain = randomUUID();

    // The database as the previous release left it.
    const old = openDb(config.database);
    try {
      if (schemaName) await old.raw('CREATE SCHEMA IF NOT EXISTS ??', [schemaName]);
      await old.migrate.latest({ migrationSource: upTo(BEFORE), schemaName });
      const account = (id: string, email: string) => ({ id, email, email_domain: 'example.com', password_hash: 'x', password_changed_at: 1, created_at: 1, updated_at: 5 });
      await old('accounts').insert({ ...account(enrolled, 'enrolled@example.com'), totp_secret: sealed, totp_enabled_at: enrolledAt, totp_last_step: oldStep, totp_generation: 1 });
      await old('accounts').insert(account(plain, 'plain@example.com'));
      await old('recovery_codes').insert([
        { account_id: enrolled, code_hash: 'a'.repeat(64) },
        { account_id: enrolled, code_hash: 'b'.repeat(64) },
      ]);
      await old('password_history').insert({ account_id: enrolled, password_hash: 'x', created_at: 1 });
    } finally {
      await old.destroy();
    }

    const services = await openServices(config); // migrates to the latest
    try {
      const db = services.db;
      const columns = Object.keys(await db('accounts').columnInfo());
      for (const column of TOTP_COLUMNS) expect(columns).not.toContain(column);
      expect(columns).toContain('totp_generation');

      const [factor, ...more] = await services.factorStore.listByAccount(enrolled);
      expect(more).toEqual([]);
      expect(factor).toEqual({ id: expect.any(String), accountId: enrolled, kind: 'totp', label: 'Authenticator app', createdAt: enrolledAt, lastUsedAt: null, secret: sealed, lastStep: oldStep });
      expect(await services.factorStore.listByAccount(plain)).toEqual([]);
      expect(await services.factorStore.generation(enrolled)).toBe(1);
      // Rows referencing the account survived the column drop (no table rebuild cascading deletes).
      expect(await db('recovery_codes').where({ account_id: enrolled }).count({ n: '*' }).first()).toEqual({ n: 2 });
      expect(await db('password_history').where({ account_id: enrolled }).count({ n: '*' }).first()).toEqual({ n: 1 });
      expect(await db('accounts').count({ n: '*' }).first()).toEqual({ n: 2 });

      const account = await services.accounts.get(enrolled);
      expect(await services.twoFactor.enrolled(enrolled)).toEqual({ totp: true, passkeys: 0 });
      const code = await generate({ secret: seed });
      expect(await services.twoFactor.verify(account, code, request)).toBe('ok');
      expect(await services.twoFactor.verify(account, code, request)).toBe('invalid'); // used once
      expect(await services.twoFactor.verify(await services.accounts.get(plain), code, request)).toBe('invalid');
      const usedStep = (await services.factorStore.listByAccount(enrolled))[0]!;
      expect(usedStep).toMatchObject({ kind: 'totp', lastUsedAt: expect.any(Number) });
      const lastStep = (usedStep as { lastStep: number }).lastStep;
      expect(lastStep).toBeGreaterThan(oldStep);

      // Down to the release before it (later migrations first): the TOTP goes back onto the account, with its last used step.
      while ((await db.migrate.currentVersion({ migrationSource, schemaName })) > BEFORE.slice(0, 14)) await db.migrate.down({ migrationSource, schemaName });
      expect(await db.migrate.currentVersion({ migrationSource, schemaName })).toBe(BEFORE.slice(0, 14));
      const restored = await db('accounts').where({ id: enrolled }).first();
      expect(restored).toMatchObject({ totp_secret: sealed, totp_enabled_at: enrolledAt, totp_last_step: lastStep });
      expect(await db('accounts').where({ id: plain }).first()).toMatchObject({ totp_secret: null, totp_enabled_at: null, totp_last_step: null });
      expect(await db.schema.hasTable('factors')).toBe(false);
      expect(await db('recovery_codes').where({ account_id: enrolled }).count({ n: '*' }).first()).toEqual({ n: 2 });

      // And up again.
      await db.migrate.latest({ migrationSource, schemaName });
      expect(await services.factorStore.listByAccount(enrolled)).toEqual([expect.objectContaining({ kind: 'totp', secret: sealed, lastStep, createdAt: enrolledAt })]);
    } finally {
      await services.close();
      await backend.cleanup();
    }
  });
}
