import type { Knex } from 'knex';
import { upgradePolicyDocument } from '../src/policy/policy-documents.js';
import { upgradeStoredPolicies } from '../src/stores/sql/policies.js';

/**
 * Security-policy documents carry the schema version of their shape. Documents stored before versions
 * existed are version 0; they are upgraded here to the current version (today 1: every field written
 * out with its default). A document that cannot be upgraded (not JSON, not an object) is left alone:
 * start-up then refuses, naming its organization.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('security_policies', (t) => {
    t.integer('schema_version').notNullable().defaultTo(0);
  });
  await upgradeStoredPolicies(knex, upgradePolicyDocument);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('security_policies', (t) => {
    t.dropColumn('schema_version');
  });
}
