import type { Knex } from 'knex';

/** Password history, reset tokens, forced changes, expiry warnings and the development mail outbox. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.boolean('must_change_password').notNullable().defaultTo(false);
    // The password_changed_at for which the expiry warning email went out (one warning per password).
    t.bigInteger('expiry_warning_sent_for');
  });

  await knex.schema.createTable('password_history', (t) => {
    t.bigIncrements('id').primary();
    t.string('account_id', 36).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.string('password_hash', 255).notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['account_id', 'id']);
  });
  // Every current password is also the newest history entry.
  await knex.raw('INSERT INTO password_history (account_id, password_hash, created_at) SELECT id, password_hash, password_changed_at FROM accounts');

  await knex.schema.createTable('password_reset_tokens', (t) => {
    t.string('token_hash', 64).primary(); // SHA-256 of the emailed token; the token itself is never stored
    t.string('account_id', 36).notNullable().references('id').inTable('accounts').onDelete('CASCADE');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at');
    t.index(['account_id']);
  });

  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.string('to', 320).notNullable();
    t.string('subject', 300).notNullable();
    t.text('text').notNullable();
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mail_outbox');
  await knex.schema.dropTableIfExists('password_reset_tokens');
  await knex.schema.dropTableIfExists('password_history');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('must_change_password');
    t.dropColumn('expiry_warning_sent_for');
  });
}
