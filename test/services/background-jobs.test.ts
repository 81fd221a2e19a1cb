import { Writable } from 'node:stream';
import { pino } from 'pino';
import { BackgroundJobs } from '../../src/services/jobs.js';
import { migrate, openDb, type Db } from '../../src/stores/db.js';
import { SqlJobLeaseStore } from '../../src/stores/sql/job-leases.js';
import { testBackend } from '../helpers/backend.js';
import { until } from '../helpers/poll.js';

/**
 * BackgroundJobs over the real lease store (SQLite, or PostgreSQL when DATABASE_URL names it): two
 * schedulers on one database stand for two nodes. The clock is the scheduler's own parameter, so the
 * intervals are stepped through rather than waited for.
 */
const backend = testBackend();
let db: Db;
let now = 1_800_000_000;
const clock = () => now;
const lines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  }),
);

beforeAll(async () => {
  const { database } = backend.config();
  db = openDb(database);
  await migrate(db, database);
});
afterAll(async () => (await db.destroy(), await backend.cleanup()));

describe('background jobs', () => {
  it('of two nodes ticking together, one runs the job per interval', async () => {
    const [a, b] = [new BackgroundJobs(new SqlJobLeaseStore(db), logger, clock), new BackgroundJobs(new SqlJobLeaseStore(db), logger, clock)];
    let runs = 0;
    const job = async () => void runs++;
    const ranPerInterval: number[] = [];
    for (let i = 0; i < 6; i++) {
      const ran = await Promise.all([a.tick('together', 5, job), b.tick('together', 5, job), a.tick('together', 5, job), b.tick('together', 5, job)]);
      ranPerInterval.push(ran.filter(Boolean).length);
      now += i % 2 === 0 ? 2 : 3; // two ticks per 5-second interval
    }
    expect(ranPerInterval).toEqual([1, 0, 1, 0, 1, 0]);
    expect(runs).toBe(3);
  });

  it('a tick while this node still runs the job does nothing, even once the next interval is due', async () => {
    const jobs = new BackgroundJobs(new SqlJobLeaseStore(db), logger, clock);
    let release!: () => void;
    let runs = 0;
    const slow = () => new Promise<void>((resolve) => ((runs++), (release = resolve)));
    const first = jobs.tick('slow', 1, slow);
    await until('the job started', async () => runs === 1, { everyMs: 10 });
    now += 5;
    expect(await jobs.tick('slow', 1, slow)).toBe(false);
    release();
    expect(await first).toBe(true);
    expect(runs).toBe(1);
    const again = jobs.tick('slow', 1, slow); // finished: the next tick runs it again
    await until('the job started again', async () => runs === 2, { everyMs: 10 });
    release();
    expect(await again).toBe(true);
  });

  it('a job that fails is logged, and runs again at the next interval', async () => {
    const jobs = new BackgroundJobs(new SqlJobLeaseStore(db), logger, clock);
    const failing = async () => {
      throw new Error('dns down');
    };
    expect(await jobs.tick('failing', 10, failing)).toBe(false);
    expect(lines.filter((l) => l.msg === 'background job failed' && l.job === 'failing')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'background job started' && l.job === 'failing')).toHaveLength(1);
    expect(await jobs.tick('failing', 10, async () => undefined)).toBe(false); // the interval was taken
    now += 10;
    expect(await jobs.tick('failing', 10, async () => undefined)).toBe(true);
  });
});
