import type { Knex } from 'knex';

/**
 * Email verification and invitations. accounts.email_verified_at is set when the user proves control of
 * the mailbox (an invitation or a reset link was followed to the end); existing accounts start
 * unverified, since nothing so far proved it. Invitation links share the reset-link table and its
 * single-use mechanism, told apart by `purpose`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.bigInteger('email_verified_at');
  });
  await knex.schema.alterTable('password_reset_tokens', (t) => {
    t.string('purpose', 16).notNullable().defaultTo('reset'); // 'reset' | 'invitation'
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('password_reset_tokens', (t) => {
    t.dropColumn('purpose');
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('email_verified_at');
  });
}
