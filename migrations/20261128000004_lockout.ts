import type { Knex } from 'knex';

/** Consecutive failed sign-ins and the lock they lead to. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.bigInteger('locked_until');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('failed_attempts');
    t.dropColumn('locked_until');
  });
}
