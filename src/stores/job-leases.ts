/**
 * Leases that make a background job run once per interval across every node sharing the database:
 * one row per job (`job_runs`: name, next_run_at). The SQL implementation is stores/sql/job-leases.ts;
 * one contract suite (test/stores/job-lease-store.contract.ts) runs against SQLite and PostgreSQL.
 */
export interface JobLeaseStore {
  /**
   * Takes job `name`'s current interval for the caller: true when the job was due (`now` at or past
   * its next run time, or never run) and is now booked to `now + intervalSeconds`; false when another
   * claim already took this interval. Decided by one conditional UPDATE, never a read then a write,
   * so of any number of simultaneous claims exactly one wins.
   */
  claim(name: string, now: number, intervalSeconds: number): Promise<boolean>;
}
