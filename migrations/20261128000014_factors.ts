import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

const TOTP_COLUMNS = ['totp_secret', 'totp_last_step', 'totp_enabled_at'] as const;
const BATCH = 200;

/**
 * Factors live in their own table: at most one TOTP authenticator and any number of passkeys per
 * account (src/stores/factors.ts). Every confirmed TOTP moves from its accounts columns into a row
 * here, then the columns go. The account's factor generation stays accounts.totp_generation.
 *
 * Dropping columns on SQLite: knex's dropColumn rebuilds the table (create a copy, DROP TABLE accounts,
 * rename), and inside a migration's transaction it cannot turn foreign keys off, so DROP TABLE runs
 * its implicit DELETE and ON DELETE CASCADE empties every table that references accounts (recovery
 * codes, password history, reset links, and the factors just copied). SQLite (3.35+) drops a column
 * that no index, key or constraint names in place: ALTER TABLE … DROP COLUMN, used here on both databases.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('factors', (t) => {
    t.string('id', 36).primary();
    t.string('account_id', 36).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('kind', 16).notNullable(); // totp | passkey
    t.string('label', 200).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_used_at');
    // TOTP
    t.text('secret'); // seed sealed with SecretBox (AES-256-GCM under DATA_ENCRYPTION_KEY)
    t.bigInteger('last_step'); // replay protection: a code's time step must be later than this
    // Passkey
    t.text('credential_id').unique(); // base64url, unique across all accounts
    t.text('public_key'); // base64url COSE key
    t.bigInteger('sign_count'); // up to 2^32 - 1
    t.text('transports'); // JSON array
    t.string('device_type', 16); // singleDevice | multiDevice
    t.boolean('backed_up');
    t.string('aaguid', 36);
    t.boolean('user_verified');
    t.index(['account_id']);
  });
  // At most one TOTP authenticator per account.
  await knex.raw("CREATE UNIQUE INDEX factors_one_totp ON factors (account_id) WHERE kind = 'totp'");

  let after = '';
  for (;;) {
    const rows: Array<{ id: string; totp_secret: string; totp_enabled_at: number | null; totp_last_step: number | null; updated_at: number }> = await knex('accounts')
      .whereNotNull('totp_secret')
      .andWhere('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .select('id', 'totp_secret', 'totp_enabled_at', 'totp_last_step', 'updated_at');
    if (!rows.length) break;
    await knex('factors').insert(
      rows.map((r) => ({
        id: randomUUID(),
        account_id: r.id,
        kind: 'totp',
        label: 'Authenticator app',
        created_at: Number(r.totp_enabled_at ?? r.updated_at),
        last_used_at: null,
        secret: r.totp_secret,
        last_step: r.totp_last_step === null ? null : Number(r.totp_last_step),
      })),
    );
    after = rows[rows.length - 1]!.id;
  }

  for (const column of TOTP_COLUMNS) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['accounts', column]);
}

/** Puts every TOTP back on its account; passkeys have no place in the older schema and are dropped. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('totp_secret');
    t.bigInteger('totp_last_step');
    t.bigInteger('totp_enabled_at');
  });
  const totps: Array<{ account_id: string; secret: string; created_at: number; last_step: number | null }> = await knex('factors')
    .where({ kind: 'totp' })
    .select('account_id', 'secret', 'created_at', 'last_step');
  for (const f of totps) {
    await knex('accounts')
      .where({ id: f.account_id })
      .update({ totp_secret: f.secret, totp_enabled_at: Number(f.created_at), totp_last_step: f.last_step === null ? null : Number(f.last_step) });
  }
  await knex.schema.dropTable('factors');
}
