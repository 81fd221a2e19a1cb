import type { Db } from '../db.js';
import type { JobLeaseStore } from '../job-leases.js';

interface JobRunRow {
  name: string;
  next_run_at: number;
  last_run_at: number | null;
}

export class SqlJobLeaseStore implements JobLeaseStore {
  constructor(private readonly db: Db) {}

  async claim(name: string, now: number, intervalSeconds: number): Promise<boolean> {
    // A job never run has no row: insert one that is due now, unless a row is there already (then nothing).
    await this.db<JobRunRow>('job_runs').insert({ name, next_run_at: now, last_run_at: null }).onConflict('name').ignore();
    // The claim itself: one conditional UPDATE. On PostgreSQL concurrent UPDATEs of the row queue on its
    // lock and each re-checks the WHERE against the committed row, so after the first wins the others
    // see next_run_at in the future and change nothing; SQLite runs writers one at a time.
    const changed = await this.db<JobRunRow>('job_runs')
      .where({ name })
      .andWhere('next_run_at', '<=', now)
      .update({ next_run_at: now + intervalSeconds, last_run_at: now });
    return changed === 1;
  }
}
