import type { Knex } from 'knex';

/**
 * Background jobs (domain re-verification, password-expiry warnings, the sweep of expired rows) run once
 * per interval across all nodes: a node runs a job only when it moves the job's next_run_at forward
 * (stores/sql/job-leases.ts). last_run_at: when the job last started, on the clock of the node that ran it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('job_runs', (t) => {
    t.string('name', 100).primary();
    t.bigInteger('next_run_at').notNullable();
    t.bigInteger('last_run_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('job_runs');
}
