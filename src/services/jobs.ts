import type { Logger } from 'pino';
import type { JobLeaseStore } from '../stores/job-leases.js';
import { nowSeconds } from '../stores/db.js';

/** How often at most a node asks whether a job is due: a job with a longer interval is still picked up within this of being due. */
const MAX_TICK_SECONDS = 60;

/**
 * Background jobs that run once per interval across the fleet. Every node keeps a timer per job; on
 * each tick it claims the job's current interval (JobLeaseStore.claim: one conditional UPDATE) and runs
 * the job only if it won. The timer ticks every interval or every minute, whichever is shorter, so when
 * the node that ran a job last dies another takes it over within a minute of it falling due.
 *
 * Intervals are measured on the claiming node's clock: keep the nodes' clocks synchronized (NTP). A run
 * that outlasts its interval may overlap the next interval's run on another node; the jobs are safe
 * under that (each takes its items one by one), the lease only stops every node doing the same work.
 */
export class BackgroundJobs {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();

  constructor(
    private readonly leases: JobLeaseStore,
    private readonly logger?: Logger,
    private readonly clock: () => number = nowSeconds,
  ) {}

  /** Runs `run` in the background about once per `intervalSeconds`, on one node of the fleet each time. */
  every(name: string, intervalSeconds: number, run: () => Promise<unknown>): void {
    const tickMs = Math.min(intervalSeconds, MAX_TICK_SECONDS) * 1000;
    this.timers.push(setInterval(() => void this.tick(name, intervalSeconds, run), tickMs).unref());
  }

  /**
   * One tick of job `name`: claims the interval and, if this node won it, runs the job. Resolves with
   * whether it ran. A tick while this node's previous run is still going does nothing.
   */
  async tick(name: string, intervalSeconds: number, run: () => Promise<unknown>): Promise<boolean> {
    if (this.running.has(name)) return false;
    this.running.add(name);
    try {
      const at = this.clock();
      if (!(await this.leases.claim(name, at, intervalSeconds))) return false;
      this.logger?.debug({ job: name, at }, 'background job started');
      await run();
      return true;
    } catch (err) {
      this.logger?.error({ err, job: name }, 'background job failed');
      return false;
    } finally {
      this.running.delete(name);
    }
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}
