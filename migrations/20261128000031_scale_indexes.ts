import type { Knex } from 'knex';

/**
 * Indexes that keep the admin API's lists flat at a million accounts and millions of audit events
 * (`npm run bench:scale` measured them; EXPLAIN ANALYZE showed the scans they replace):
 * - accounts (email_domain, id) replaces (email_domain): an organization admin's user list reads the
 *   accounts on each verified domain in id order (keyset paging) instead of filtering the whole table in id order.
 * - audit_events (organization_id, at_ms, id) and (at_ms, id): a trail read with since and until reads
 *   the window's ids from the index alone (stores/sql/audit.ts) instead of walking every newer event
 *   of the organization (or of the platform) in id order.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('accounts', (t) => {
    t.index(['email_domain', 'id']);
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropIndex(['email_domain']);
  });
  await knex.schema.alterTable('audit_events', (t) => {
    t.index(['organization_id', 'at_ms', 'id']);
    t.index(['at_ms', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['organization_id', 'at_ms', 'id']);
    t.dropIndex(['at_ms', 'id']);
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.index(['email_domain']);
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropIndex(['email_domain', 'id']);
  });
}
