import type { Knex } from 'knex';

/**
 * One counting rule for accounts and for addresses without an account (see stores/sql/attempt-counting.ts):
 * the time of the last counted attempt, on accounts and in a table for unknown addresses keyed by a
 * digest of the normalized email. And a generation number of the second factor, so that an enrollment
 * started before any confirmation or reset can never be confirmed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.bigInteger('last_attempt_at');
    t.integer('totp_generation').notNullable().defaultTo(0);
  });
  // Failures counted before this migration keep counting from now (they had no time until now).
  await knex('accounts').where('failed_attempts', '>', 0).update({ last_attempt_at: Math.floor(Date.now() / 1000) });
  await knex.schema.createTable('attempt_counters', (t) => {
    t.string('subject', 64).primary(); // SHA-256 (hex) of the normalized email
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.bigInteger('locked_until');
    t.bigInteger('last_attempt_at');
    t.index(['last_attempt_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('attempt_counters');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('last_attempt_at');
    t.dropColumn('totp_generation');
  });
}
