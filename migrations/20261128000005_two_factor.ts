import type { Knex } from 'knex';

/** TOTP second factor: the encrypted secret, the last accepted time step, and hashed recovery codes. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.text('totp_secret'); // AES-256-GCM under DATA_ENCRYPTION_KEY; totp_enabled_at says it is confirmed
    t.bigInteger('totp_last_step'); // replay protection: a code's time step must be later than this
  });
  await knex.schema.createTable('recovery_codes', (t) => {
    t.bigIncrements('id').primary();
    t.string('account_id', 36).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('code_hash', 64).notNullable(); // SHA-256 of the normalized code
    t.bigInteger('used_at');
    t.index(['account_id', 'code_hash']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('recovery_codes');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('totp_secret');
    t.dropColumn('totp_last_step');
  });
}
