import type { Knex } from 'knex';

/** Organizations, membership, domain claims, security policies and the audit trail. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('organizations', (t) => {
    t.string('id', 36).primary();
    t.string('name', 200).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.alterTable('accounts', (t) => {
    t.string('email_domain', 255); // the part after @, for "who does this domain's policy govern"
    t.string('organization_id', 36).references('id').inTable('organizations');
    t.string('org_role', 16); // owner | admin | member, set with organization_id
    t.bigInteger('totp_enabled_at'); // set once a second factor is confirmed
    t.index(['email_domain']);
    t.index(['organization_id', 'id']);
  });
  const domainOfEmail = knex.client.config.client === 'pg' ? "split_part(email, '@', 2)" : "substr(email, instr(email, '@') + 1)";
  await knex('accounts').update({ email_domain: knex.raw(domainOfEmail) });

  await knex.schema.createTable('domain_claims', (t) => {
    t.string('id', 36).primary();
    t.string('organization_id', 36).notNullable().references('id').inTable('organizations');
    t.string('domain', 255).notNullable(); // ASCII (punycode), lower-case
    t.string('status', 16).notNullable(); // pending | verified | revoked
    t.string('token', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('verified_at');
    t.bigInteger('revoked_at');
    t.string('revoked_reason', 64);
    t.bigInteger('last_checked_at');
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    t.unique(['organization_id', 'domain']);
    t.index(['domain', 'status']);
  });
  // At most one organization holds a domain verified at any time.
  await knex.raw("CREATE UNIQUE INDEX domain_claims_one_verified ON domain_claims (domain) WHERE status = 'verified'");

  await knex.schema.createTable('security_policies', (t) => {
    t.string('subject', 40).primary(); // an organization id, or 'baseline'
    t.text('policy').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.string('updated_by', 255);
  });

  await knex.schema.createTable('audit_events', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('at_ms').notNullable();
    t.string('type', 64).notNullable();
    t.string('actor_type', 16).notNullable(); // client | user | anonymous | system
    t.string('actor_id', 255);
    t.string('organization_id', 36);
    t.string('target_type', 32);
    t.string('target_id', 255);
    t.string('ip', 64);
    t.string('user_agent', 512);
    t.text('data'); // JSON: before/after and details; never secrets
    t.index(['organization_id', 'id']);
    t.index(['type', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_events');
  await knex.schema.dropTableIfExists('security_policies');
  await knex.schema.dropTableIfExists('domain_claims');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropIndex(['email_domain']);
    t.dropIndex(['organization_id', 'id']);
    t.dropColumn('email_domain');
    t.dropColumn('organization_id');
    t.dropColumn('org_role');
    t.dropColumn('totp_enabled_at');
  });
  await knex.schema.dropTableIfExists('organizations');
}
