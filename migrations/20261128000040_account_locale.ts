import type { Knex } from 'knex';

/**
 * The language the account's owner last signed in with ('en', 'vi'): mails to the account are written in
 * it. Null until the first sign-in after this migration (mails then follow the request or DEFAULT_LOCALE).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.string('locale', 16).nullable();
  });
}

/**
 * ALTER TABLE … DROP COLUMN on both databases: knex's dropColumn rebuilds the table on SQLite, and dropping
 * the old accounts table would cascade-delete every row referencing it (see 20261128000014_factors).
 */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['accounts', 'locale']);
}
