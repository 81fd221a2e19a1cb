import type { JobLeaseStore } from '../../src/stores/job-leases.js';

export interface OpenedJobLeaseStores {
  /** Several stores on the same database, each over its own connection, as several nodes would be. */
  stores: JobLeaseStore[];
  close(): Promise<void>;
}

const T0 = 1_800_000_000;

/** The job-lease contract, run against each SQL backend: of simultaneous claims on an interval exactly one wins. */
export function jobLeaseStoreContract(name: string, open: () => Promise<OpenedJobLeaseStores>): void {
  describe(`job-lease store contract (${name})`, () => {
    let opened: OpenedJobLeaseStores;
    beforeAll(async () => (opened = await open()));
    afterAll(async () => opened?.close());

    /** Every store claims `job` at `now` this many times at once; resolves with how many won. */
    const claimAll = async (job: string, now: number, interval: number, each = 4) => {
      const claims = opened.stores.flatMap((store) => Array.from({ length: each }, () => store.claim(job, now, interval)));
      return (await Promise.all(claims)).filter(Boolean).length;
    };

    it('of many simultaneous first claims on a job never run, exactly one wins', async () => {
      expect(await claimAll('first-run', T0, 60)).toBe(1);
    });

    it('nobody wins again within the interval; at its end exactly one does, then nobody again', async () => {
      expect(await claimAll('intervals', T0, 60)).toBe(1);
      expect(await claimAll('intervals', T0 + 1, 60)).toBe(0);
      expect(await claimAll('intervals', T0 + 59, 60)).toBe(0);
      expect(await claimAll('intervals', T0 + 60, 60)).toBe(1);
      expect(await claimAll('intervals', T0 + 60, 60)).toBe(0);
      expect(await claimAll('intervals', T0 + 119, 60)).toBe(0);
      expect(await claimAll('intervals', T0 + 125, 60)).toBe(1);
    });

    it('after a long pause the job runs once, not once per missed interval', async () => {
      expect(await claimAll('paused', T0, 10)).toBe(1);
      expect(await claimAll('paused', T0 + 1000, 10)).toBe(1);
      expect(await claimAll('paused', T0 + 1005, 10)).toBe(0);
      expect(await claimAll('paused', T0 + 1010, 10)).toBe(1);
    });

    it('jobs are independent of each other', async () => {
      expect(await claimAll('job-a', T0, 60)).toBe(1);
      expect(await claimAll('job-b', T0, 60)).toBe(1);
      expect(await claimAll('job-a', T0 + 30, 60)).toBe(0);
      expect(await claimAll('job-b', T0 + 30, 30)).toBe(0); // the interval booked by the last win holds
      expect(await claimAll('job-b', T0 + 60, 30)).toBe(1);
    });

    it('a single claimer wins every interval on its own', async () => {
      const [store] = opened.stores;
      const wins: number[] = [];
      for (let t = T0; t < T0 + 10; t++) if (await store!.claim('solo', t, 2)) wins.push(t - T0);
      expect(wins).toEqual([0, 2, 4, 6, 8]);
    });
  });
}
