import type { Knex } from 'knex';

/**
 * The admin API's user search matches an email prefix (email LIKE 'ab%'). PostgreSQL uses a plain
 * btree index for LIKE only under the C collation; text_pattern_ops serves it under any. SQLite's LIKE
 * ignores case and uses no index either way: nothing to add there.
 */
export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('CREATE INDEX accounts_email_prefix ON accounts (email text_pattern_ops)');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'pg') await knex.raw('DROP INDEX accounts_email_prefix');
}
