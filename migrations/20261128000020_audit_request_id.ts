import type { Knex } from 'knex';

/**
 * Each audit event names the request during which it was recorded (the X-Request-Id Gatehouse returned,
 * and logged with that request), so an event, the access log and the caller's report can be matched.
 * Null for events recorded outside a request (background jobs, the CLI) and for those recorded before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.string('request_id', 64);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropColumn('request_id');
  });
}
