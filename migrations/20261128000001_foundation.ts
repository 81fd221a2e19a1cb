import type { Knex } from 'knex';

/**
 * Foundation schema. Timestamps are epoch seconds (bigint) so SQLite and PostgreSQL store and compare
 * them the same way; JSON is stored as text for the same reason.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.string('id', 36).primary();
    t.string('email', 320).notNullable().unique(); // normalized: NFC, trimmed, lower-case
    t.string('name', 200);
    t.string('password_hash', 255).notNullable();
    t.string('status', 16).notNullable().defaultTo('active');
    t.bigInteger('password_changed_at').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('clients', (t) => {
    t.string('client_id', 64).primary();
    t.string('client_name', 200).notNullable();
    t.string('session_type', 16).notNullable();
    t.boolean('first_party').notNullable().defaultTo(true);
    t.text('metadata').notNullable(); // oidc-provider client metadata; client_secret holds a SHA-256 digest
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.string('kid', 64).primary();
    t.string('state', 16).notNullable(); // next | current | retired
    t.text('private_jwk').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('state_changed_at').notNullable();
  });

  await knex.schema.createTable('instance_secrets', (t) => {
    t.string('name', 64).primary();
    t.text('value').notNullable();
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('oidc_payloads', (t) => {
    t.string('model', 40).notNullable();
    t.string('id', 255).notNullable();
    t.text('payload').notNullable();
    t.string('grant_id', 255);
    t.string('uid', 255);
    t.string('user_code', 255);
    t.string('account_id', 255);
    t.bigInteger('expires_at');
    t.bigInteger('consumed_at');
    t.primary(['model', 'id']);
    t.index(['grant_id']);
    t.index(['model', 'uid']);
    t.index(['model', 'user_code']);
    t.index(['account_id', 'model']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['oidc_payloads', 'instance_secrets', 'signing_keys', 'clients', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
