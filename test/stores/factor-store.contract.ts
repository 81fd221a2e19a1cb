import { randomUUID } from 'node:crypto';
import type { FactorStore, PasskeyFactor, TotpFactor } from '../../src/stores/factors.js';

export interface OpenedFactorStore {
  store: FactorStore;
  /** A new account (a row in `accounts`); returns its id. */
  newAccount(): Promise<string>;
  /** Deletes the account row (its factors must go with it). */
  deleteAccount(id: string): Promise<void>;
  close(): Promise<void>;
}

export const totp = (accountId: string, over: Partial<TotpFactor> = {}): TotpFactor => ({
  id: randomUUID(),
  accountId,
  kind: 'totp',
  label: 'Authenticator app',
  createdAt: 1_800_000_000,
  lastUsedAt: null,
  secret: `sealed-${randomUUID()}`,
  lastStep: 60_000_000,
  ...over,
});

export const passkey = (accountId: string, over: Partial<PasskeyFactor> = {}): PasskeyFactor => ({
  id: randomUUID(),
  accountId,
  kind: 'passkey',
  label: 'Work laptop',
  createdAt: 1_800_000_100,
  lastUsedAt: null,
  credentialId: `cred-${randomUUID()}`,
  publicKey: 'pQECAyYgASFYIK',
  signCount: 5,
  transports: ['internal', 'hybrid'],
  deviceType: 'multiDevice',
  backedUp: true,
  aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4',
  userVerified: true,
  ...over,
});

const N = 12;
const wins = (results: boolean[]) => results.filter((r) => r === true).length;

/**
 * What every FactorStore must do, including under concurrency: N callers racing for one single-use
 * thing, exactly one wins. On PostgreSQL the pool runs the racers on separate connections, truly in
 * parallel; on SQLite they queue on the one connection.
 */
export function factorStoreContract(name: string, open: () => Promise<OpenedFactorStore>) {
  describe(`FactorStore contract: ${name}`, () => {
    let store: FactorStore;
    let opened: OpenedFactorStore;
    let account: () => Promise<string>;
    beforeAll(async () => {
      opened = await open();
      store = opened.store;
      account = () => opened.newAccount();
    });
    afterAll(() => opened.close());

    it('an account without factors: empty list, generation 0, no passkey by an unknown credential', async () => {
      const a = await account();
      expect(await store.listByAccount(a)).toEqual([]);
      expect(await store.generation(a)).toBe(0);
      expect(await store.findPasskey('no-such-credential')).toBeUndefined();
    });

    it('addFirst stores a TOTP exactly as given, moves the generation on, and refuses any further first factor', async () => {
      const a = await account();
      const f = totp(a, { lastStep: 59_999_999, lastUsedAt: 1_800_000_050 });
      expect(await store.addFirst(f, 0)).toBe(true);
      expect(await store.listByAccount(a)).toEqual([f]);
      expect(await store.generation(a)).toBe(1);
      // The account has a factor now: no other first factor, at the old or at the new generation.
      expect(await store.addFirst(totp(a), 0)).toBe(false);
      expect(await store.addFirst(totp(a), 1)).toBe(false);
      expect(await store.addFirst(passkey(a), 1)).toBe(false);
      expect(await store.listByAccount(a)).toEqual([f]);
      expect(await store.generation(a)).toBe(1);
    });

    it('listByAccounts reads many accounts at once: each its own factors, oldest first, and an empty list for one without', async () => {
      const [a, b, none] = [await account(), await account(), await account()];
      const t = totp(a, { createdAt: 1_800_000_200 });
      const p1 = passkey(a, { createdAt: 1_800_000_100 });
      const p2 = passkey(b);
      expect(await store.addFirst(p1, 0)).toBe(true);
      expect(await store.add(t)).toBe(true);
      expect(await store.addFirst(p2, 0)).toBe(true);
      const found = await store.listByAccounts([a, b, none, a]);
      expect([...found.keys()].sort()).toEqual([a, b, none].sort());
      expect(found.get(a)).toEqual([p1, t]);
      expect(found.get(b)).toEqual([p2]);
      expect(found.get(none)).toEqual([]);
      for (const id of [a, b, none]) expect(found.get(id)).toEqual(await store.listByAccount(id));
      expect((await store.listByAccounts([])).size).toBe(0);
    });

    it('addFirst refuses an enrollment started at another generation', async () => {
      const a = await account();
      expect(await store.addFirst(totp(a), 1)).toBe(false);
      expect(await store.listByAccount(a)).toEqual([]);
      expect(await store.generation(a)).toBe(0);
      expect(await store.addFirst(totp(a), 0)).toBe(true);
    });

    it('addFirst on an account that does not exist refuses', async () => {
      expect(await store.addFirst(totp(randomUUID()), 0)).toBe(false);
    });

    it('stores a passkey with every field, and finds it by its credential ID', async () => {
      const a = await account();
      const p = passkey(a, { transports: ['usb', 'nfc'], deviceType: 'singleDevice', backedUp: false, aaguid: null, userVerified: false, signCount: 0 });
      expect(await store.addFirst(p, 0)).toBe(true);
      expect(await store.listByAccount(a)).toEqual([p]);
      expect(await store.findPasskey(p.credentialId)).toEqual(p);
      const q = passkey(a);
      expect(await store.add(q)).toBe(true);
      expect(await store.findPasskey(q.credentialId)).toEqual(q);
    });

    it('lists an account\'s factors oldest first, and only its own', async () => {
      const a = await account();
      const b = await account();
      const late = passkey(a, { createdAt: 1_900_000_000 });
      const early = totp(a, { createdAt: 1_700_000_000 });
      expect(await store.add(late)).toBe(true);
      expect(await store.add(early)).toBe(true);
      expect(await store.add(passkey(b))).toBe(true);
      expect((await store.listByAccount(a)).map((f) => f.id)).toEqual([early.id, late.id]);
      expect(await store.listByAccount(b)).toHaveLength(1);
    });

    it('add: passkeys beside a TOTP, never a second TOTP, never a credential ID twice (on any account)', async () => {
      const a = await account();
      const b = await account();
      const p = passkey(a);
      expect(await store.add(p)).toBe(true);
      expect(await store.generation(a)).toBe(1);
      expect(await store.add(totp(a))).toBe(true);
      expect(await store.generation(a)).toBe(2);
      expect(await store.add(totp(a))).toBe(false);
      expect(await store.add(passkey(a, { credentialId: p.credentialId }))).toBe(false);
      expect(await store.add(passkey(b, { credentialId: p.credentialId }))).toBe(false);
      expect(await store.addFirst(passkey(b, { credentialId: p.credentialId }), 0)).toBe(false);
      expect(await store.listByAccount(a)).toHaveLength(2);
      expect(await store.listByAccount(b)).toEqual([]);
      expect(await store.generation(a)).toBe(2); // refusals move nothing
      expect(await store.generation(b)).toBe(0);
      expect(await store.add(totp(randomUUID()))).toBe(false);
    });

    it('add with a generation: refused once a factor was added or removed since; one of N racers started at the same generation wins', async () => {
      const a = await account();
      const p = passkey(a);
      expect(await store.add(p)).toBe(true);
      const started = await store.generation(a);
      expect(await store.add(passkey(a))).toBe(true); // the generation moves on
      expect(await store.add(totp(a), { generation: started })).toBe(false);
      expect(await store.generation(a)).toBe(started + 1);
      expect(await store.add(totp(a), { generation: started + 1 })).toBe(true);
      const b = await account();
      await store.add(passkey(b));
      const at = await store.generation(b);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.add(passkey(b), { generation: at })));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.listByAccount(b)).toHaveLength(2);
    });

    it('advanceTotpStep: only forward, records the use, and only on a TOTP factor', async () => {
      const a = await account();
      const f = totp(a, { lastStep: 100 });
      await store.addFirst(f, 0);
      expect(await store.advanceTotpStep(f.id, 100, 1_800_000_300)).toBe(false);
      expect(await store.advanceTotpStep(f.id, 99, 1_800_000_300)).toBe(false);
      expect(await store.advanceTotpStep(f.id, 101, 1_800_000_300)).toBe(true);
      expect(await store.listByAccount(a)).toEqual([{ ...f, lastStep: 101, lastUsedAt: 1_800_000_300 }]);
      expect(await store.advanceTotpStep(f.id, 101, 1_800_000_400)).toBe(false);
      expect(await store.advanceTotpStep(randomUUID(), 500, 1)).toBe(false);
      const p = passkey(a);
      await store.add(p);
      expect(await store.advanceTotpStep(p.id, 500, 1)).toBe(false);
      // A TOTP without a recorded step takes any step.
      const b = await account();
      const g = totp(b, { lastStep: null });
      await store.addFirst(g, 0);
      expect(await store.advanceTotpStep(g.id, 1, 2)).toBe(true);
    });

    it('advancePasskeyCounter: forward only; both 0 (no counter) passes; a regression is refused and changes nothing', async () => {
      const a = await account();
      const p = passkey(a, { signCount: 5 });
      await store.addFirst(p, 0);
      expect(await store.advancePasskeyCounter(p.id, 5, 10)).toBe(false);
      expect(await store.advancePasskeyCounter(p.id, 4, 10)).toBe(false);
      expect(await store.advancePasskeyCounter(p.id, 0, 10)).toBe(false);
      expect(await store.findPasskey(p.credentialId)).toEqual(p);
      expect(await store.advancePasskeyCounter(p.id, 6, 20)).toBe(true);
      expect(await store.findPasskey(p.credentialId)).toEqual({ ...p, signCount: 6, lastUsedAt: 20 });
      expect(await store.advancePasskeyCounter(p.id, 2 ** 32 - 1, 30)).toBe(true); // the counter is 32 bits
      expect((await store.findPasskey(p.credentialId))?.signCount).toBe(2 ** 32 - 1);

      const zero = passkey(a, { signCount: 0 });
      await store.add(zero);
      expect(await store.advancePasskeyCounter(zero.id, 0, 40)).toBe(true);
      expect(await store.advancePasskeyCounter(zero.id, 0, 41)).toBe(true);
      expect((await store.findPasskey(zero.credentialId))?.lastUsedAt).toBe(41);
      expect(await store.advancePasskeyCounter(zero.id, 1, 42)).toBe(true);
      expect(await store.advancePasskeyCounter(zero.id, 0, 43)).toBe(false);

      const t = totp(a);
      await store.add(t);
      expect(await store.advancePasskeyCounter(t.id, 1_000, 50)).toBe(false);
    });

    it('rename: the account\'s own factor only', async () => {
      const a = await account();
      const b = await account();
      const p = passkey(a);
      await store.addFirst(p, 0);
      expect(await store.rename(b, p.id, 'Stolen')).toBe(false);
      expect(await store.rename(a, p.id, 'Phone')).toBe(true);
      expect((await store.findPasskey(p.credentialId))?.label).toBe('Phone');
      expect(await store.rename(a, randomUUID(), 'x')).toBe(false);
    });

    it('remove: gone, last (with keepOne), removed; every removal moves the generation on', async () => {
      const a = await account();
      const b = await account();
      const t = totp(a);
      const p = passkey(a);
      await store.addFirst(t, 0);
      await store.add(p);
      expect(await store.generation(a)).toBe(2);
      expect(await store.remove(a, randomUUID(), { keepOne: false })).toBe('gone');
      expect(await store.remove(b, p.id, { keepOne: false })).toBe('gone'); // not b's
      expect(await store.generation(a)).toBe(2);
      expect(await store.remove(a, p.id, { keepOne: true })).toBe('removed');
      expect(await store.generation(a)).toBe(3);
      expect(await store.remove(a, t.id, { keepOne: true })).toBe('last');
      expect(await store.listByAccount(a)).toEqual([t]);
      expect(await store.generation(a)).toBe(3);
      expect(await store.remove(a, t.id, { keepOne: false })).toBe('removed');
      expect(await store.listByAccount(a)).toEqual([]);
      expect(await store.generation(a)).toBe(4);
      expect(await store.remove(a, t.id, { keepOne: false })).toBe('gone');
      expect(await store.remove(randomUUID(), t.id, { keepOne: false })).toBe('gone');
    });

    it('removeAll: every factor of the account and no other; the generation moves on even when there was none', async () => {
      const a = await account();
      const b = await account();
      await store.addFirst(totp(a), 0);
      await store.add(passkey(a));
      await store.add(passkey(a));
      const kept = passkey(b);
      await store.addFirst(kept, 0);
      expect(await store.removeAll(a)).toBe(3);
      expect(await store.listByAccount(a)).toEqual([]);
      expect(await store.generation(a)).toBe(4);
      expect(await store.removeAll(a)).toBe(0);
      expect(await store.generation(a)).toBe(5);
      expect(await store.listByAccount(b)).toEqual([kept]);
      // An enrollment started before the reset is dead.
      expect(await store.addFirst(totp(a), 4)).toBe(false);
      expect(await store.addFirst(totp(a), 5)).toBe(true);
    });

    it('countWithoutFactor counts the given accounts that have no factor of any kind', async () => {
      const [none1, none2, withTotp, withPasskey] = await Promise.all(Array.from({ length: 4 }, () => account()));
      await store.addFirst(totp(withTotp!), 0);
      await store.addFirst(passkey(withPasskey!), 0);
      expect(await store.countWithoutFactor([none1!, none2!, withTotp!, withPasskey!])).toBe(2);
      expect(await store.countWithoutFactor([withTotp!, withPasskey!])).toBe(0);
      expect(await store.countWithoutFactor([none1!, none1!])).toBe(1);
      expect(await store.countWithoutFactor([])).toBe(0);
      const many = await Promise.all(Array.from({ length: 3 }, () => account()));
      // More ids than one statement takes: counted across chunks.
      const padded = [...Array.from({ length: 1200 }, () => randomUUID()), ...many, withTotp!];
      expect(await store.countWithoutFactor(padded)).toBe(3);
    });

    it('factors go with their account', async () => {
      const a = await account();
      const p = passkey(a);
      await store.addFirst(p, 0);
      await opened.deleteAccount(a);
      expect(await store.listByAccount(a)).toEqual([]);
      expect(await store.findPasskey(p.credentialId)).toBeUndefined();
    });

    describe(`races (N=${N})`, () => {
      it('N simultaneous addFirst at the same generation: exactly one wins, round after round', async () => {
        for (let round = 0; round < 4; round++) {
          const a = await account();
          const candidates = Array.from({ length: N }, (_, i) => (i % 2 ? passkey(a) : totp(a)));
          const results = await Promise.all(candidates.map((f) => store.addFirst(f, 0)));
          expect(wins(results)).toBe(1);
          const stored = await store.listByAccount(a);
          expect(stored).toEqual([candidates[results.indexOf(true)]]);
          expect(await store.generation(a)).toBe(1);
        }
      });

      it('N simultaneous advanceTotpStep to the same step: exactly one wins', async () => {
        for (let round = 0; round < 4; round++) {
          const a = await account();
          const f = totp(a, { lastStep: 100 });
          await store.addFirst(f, 0);
          expect(wins(await Promise.all(Array.from({ length: N }, () => store.advanceTotpStep(f.id, 101, 5))))).toBe(1);
          // Later steps racing: the stored step only moves forward.
          await Promise.all(Array.from({ length: N }, (_, i) => store.advanceTotpStep(f.id, 102 + i, 6)));
          expect((await store.listByAccount(a))[0]).toMatchObject({ lastStep: 102 + N - 1 });
        }
      });

      it('N simultaneous assertions with the same counter: exactly one wins (a cloned credential loses)', async () => {
        const a = await account();
        const p = passkey(a, { signCount: 7 });
        await store.addFirst(p, 0);
        expect(wins(await Promise.all(Array.from({ length: N }, () => store.advancePasskeyCounter(p.id, 8, 5))))).toBe(1);
        expect((await store.findPasskey(p.credentialId))?.signCount).toBe(8);
      });

      it('N accounts registering the same credential ID at once: exactly one gets it', async () => {
        const accounts = await Promise.all(Array.from({ length: N }, () => account()));
        const credentialId = `shared-${randomUUID()}`;
        const results = await Promise.all(accounts.map((a, i) => (i % 2 ? store.add(passkey(a, { credentialId })) : store.addFirst(passkey(a, { credentialId }), 0))));
        expect(wins(results)).toBe(1);
        expect((await store.findPasskey(credentialId))?.accountId).toBe(accounts[results.indexOf(true)]);
      });

      it('two simultaneous removals (keepOne) of an account\'s last two factors: exactly one succeeds, on every account', async () => {
        const accounts = await Promise.all(Array.from({ length: N }, () => account()));
        const pairs = await Promise.all(
          accounts.map(async (a) => {
            const pair = [totp(a), passkey(a)] as const;
            await store.addFirst(pair[0], 0);
            await store.add(pair[1]);
            return pair;
          }),
        );
        const outcomes = await Promise.all(pairs.map(([t, p]) => Promise.all([store.remove(t.accountId, t.id, { keepOne: true }), store.remove(p.accountId, p.id, { keepOne: true })])));
        for (const [i, pair] of outcomes.entries()) {
          expect([...pair].sort()).toEqual(['last', 'removed']);
          expect(await store.listByAccount(accounts[i]!)).toHaveLength(1);
        }
      });

      it('a removal racing an addition: the account never ends up without a factor it was promised to keep', async () => {
        const a = await account();
        const t = totp(a);
        await store.addFirst(t, 0);
        const p = passkey(a);
        const [added, removed] = await Promise.all([store.add(p), store.remove(a, t.id, { keepOne: true })]);
        expect(added).toBe(true);
        expect(['removed', 'last']).toContain(removed);
        expect((await store.listByAccount(a)).length).toBeGreaterThanOrEqual(1);
      });
    });
  });
}
