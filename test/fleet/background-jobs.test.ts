import { jest } from '@jest/globals';
import { FLEET_BACKENDS, FLEET_SKIP_REASON, startFleet, type Fleet } from '../helpers/fleet.js';
import { until } from '../helpers/poll.js';

/**
 * Background jobs run once per interval across the fleet, not once per node: three nodes with the
 * password-expiry warning job every second and the sweep every 10 seconds (its shortest setting). Each
 * node logs (at debug) the interval it claimed, `at`, whenever it starts a job; across the three
 * nodes' logs no interval may be claimed twice and successive runs must be an interval apart. When the
 * node that won the intervals dies, another takes the job over.
 */
const describeFleet = FLEET_BACKENDS ? describe : describe.skip;
if (!FLEET_BACKENDS) {
  describe('fleet background jobs', () => {
    it.skip(`skipped: ${FLEET_SKIP_REASON}`, () => undefined);
  });
}

jest.setTimeout(120_000);

const INTERVALS = { 'password-expiry-warnings': 1, sweep: 10 } as const;
type Job = keyof typeof INTERVALS;

let fleet: Fleet;
if (FLEET_BACKENDS) {
  beforeAll(async () => {
    fleet = await startFleet({
      env: {
        LOG_LEVEL: 'debug',
        PASSWORD_EXPIRY_WARNING_INTERVAL_SECONDS: String(INTERVALS['password-expiry-warnings']),
        SWEEP_INTERVAL_SECONDS: String(INTERVALS.sweep),
      },
    });
  }, 60_000);
  afterAll(async () => fleet?.stop());
}

/** Every start of `job` on any node: the node and the interval start it claimed. */
const runsOf = (job: Job) =>
  fleet.nodes
    .flatMap((n) => n.logs.filter((l) => l.msg === 'background job started' && l.job === job).map((l) => ({ node: n.index, at: l.at as number })))
    .sort((a, b) => a.at - b.at);

describeFleet('background jobs on three nodes', () => {
  it('each job runs once per interval across the fleet', async () => {
    await until('the expiry job has run 8 times and the sweep twice', async () => runsOf('password-expiry-warnings').length >= 8 && runsOf('sweep').length >= 2, {
      deadlineMs: 60_000,
      everyMs: 500,
    });
    for (const job of Object.keys(INTERVALS) as Job[]) {
      const runs = runsOf(job);
      const ats = runs.map((r) => r.at);
      // No interval claimed twice, on one node or two…
      expect(new Set(ats).size).toBe(ats.length);
      // …and each run at least an interval after the one before, whichever node ran it.
      const gaps = ats.slice(1).map((at, i) => at - ats[i]!);
      expect(gaps.every((g) => g >= INTERVALS[job])).toBe(true);
      process.stdout.write(`${job}: ${runs.length} runs over ${ats[ats.length - 1]! - ats[0]!} s, by nodes ${runs.map((r) => r.node).join(',')}\n`);
    }
    // Three nodes ticking on their own would have run the expiry job about three times a second.
    const expiry = runsOf('password-expiry-warnings');
    const span = expiry[expiry.length - 1]!.at - expiry[0]!.at + 1;
    expect(expiry.length).toBeLessThanOrEqual(span);
  });

  it('when the node that has been running a job dies, another takes it over, still once per interval', async () => {
    const last = runsOf('password-expiry-warnings').at(-1)!;
    await fleet.kill(last.node);
    const killedAt = last.at;
    await until('another node has run the expiry job 3 times', async () => runsOf('password-expiry-warnings').filter((r) => r.at > killedAt && r.node !== last.node).length >= 3, {
      deadlineMs: 30_000,
      everyMs: 500,
    });
    const ats = runsOf('password-expiry-warnings').map((r) => r.at);
    expect(new Set(ats).size).toBe(ats.length);
  });
});
