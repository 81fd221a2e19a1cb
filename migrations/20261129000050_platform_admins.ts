import type { Knex } from 'knex';

/**
 * Platform administrators who are people: an account with `platform_admin` set gets the platform
 * principal in the admin API (admin/auth.ts) with itself as the actor. Set and cleared only by the CLI
 * (`gatehouse user grant-platform-admin` / `revoke-platform-admin`). Existing accounts start without it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.boolean('platform_admin').notNullable().defaultTo(false);
  });
}

/** ALTER TABLE … DROP COLUMN on both databases (see 20261128000040_account_locale for why not dropColumn). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ?? DROP COLUMN ??', ['accounts', 'platform_admin']);
}
