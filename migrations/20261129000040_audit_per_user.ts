import type { Knex } from 'knex';

/**
 * The account center's "Recent activity" reads a user's own events, newest first
 * (stores/sql/audit.ts listAboutUser): events about the user (target) and events the user caused
 * about nobody else (actor, no target), each through its own index instead of the whole trail.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.index(['target_type', 'target_id', 'id']);
    t.index(['actor_type', 'actor_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['target_type', 'target_id', 'id']);
    t.dropIndex(['actor_type', 'actor_id', 'id']);
  });
}
