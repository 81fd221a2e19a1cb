import type { OidcStore } from '../../src/stores/oidc-store.js';

/**
 * The behaviour every OidcStore backend must show. oidc-provider relies on each of these: lookups
 * by uid and user code, consumption, grant-wide revocation, expiry; Gatehouse adds the per-account index.
 */
export function oidcStoreContract(name: string, open: () => Promise<{ store: OidcStore; close(): Promise<void> }>) {
  describe(`OidcStore contract: ${name}`, () => {
    let store: OidcStore;
    let close: () => Promise<void>;
    beforeAll(async () => ({ store, close } = await open()));
    afterAll(() => close());

    it('stores, replaces and finds payloads by model and id', async () => {
      await store.upsert('AccessToken', 'at1', { grantId: 'g1', accountId: 'acc1', scope: 'openid' }, 60);
      expect(await store.find('AccessToken', 'at1')).toEqual({ grantId: 'g1', accountId: 'acc1', scope: 'openid' });
      await store.upsert('AccessToken', 'at1', { grantId: 'g1', accountId: 'acc1', scope: 'openid email' }, 60);
      expect(await store.find('AccessToken', 'at1')).toMatchObject({ scope: 'openid email' });
      expect(await store.find('RefreshToken', 'at1')).toBeUndefined();
      expect(await store.find('AccessToken', 'missing')).toBeUndefined();
    });

    it('finds by uid and by user code', async () => {
      await store.upsert('Session', 's1', { uid: 'uid-1', accountId: 'acc1' }, 60);
      await store.upsert('DeviceCode', 'd1', { userCode: 'ABCD-EFGH' }, 60);
      expect(await store.findByUid('Session', 'uid-1')).toMatchObject({ uid: 'uid-1' });
      expect(await store.findByUid('Session', 'uid-2')).toBeUndefined();
      expect(await store.findByUserCode('DeviceCode', 'ABCD-EFGH')).toMatchObject({ userCode: 'ABCD-EFGH' });
      expect(await store.findByUserCode('DeviceCode', 'NOPE')).toBeUndefined();
    });

    it('marks payloads consumed once, and consuming a missing one creates nothing', async () => {
      await store.upsert('AuthorizationCode', 'c1', { grantId: 'g2' }, 60);
      expect((await store.find('AuthorizationCode', 'c1'))?.consumed).toBeUndefined();
      expect(await store.consume('AuthorizationCode', 'c1')).toBe(true);
      const consumed = (await store.find('AuthorizationCode', 'c1'))?.consumed;
      expect(typeof consumed).toBe('number');
      expect(Math.abs(consumed! - Date.now() / 1000)).toBeLessThan(60);
      expect(await store.consume('AuthorizationCode', 'c1')).toBe(false);
      expect((await store.find('AuthorizationCode', 'c1'))?.consumed).toBe(consumed);
      expect(await store.consume('AuthorizationCode', 'never-stored')).toBe(false);
      expect(await store.find('AuthorizationCode', 'never-stored')).toBeUndefined();
    });

    it('consumes only the payload named; a saved consumed payload stays consumed', async () => {
      await store.upsert('AuthorizationCode', 'c-one', { grantId: 'g3' }, 60);
      await store.upsert('AuthorizationCode', 'c-other', { grantId: 'g3' }, 60);
      expect(await store.consume('AuthorizationCode', 'c-one')).toBe(true);
      expect((await store.find('AuthorizationCode', 'c-other'))?.consumed).toBeUndefined();
      expect(await store.consume('AuthorizationCode', 'c-other')).toBe(true);
      await store.upsert('RefreshToken', 'r-used', { grantId: 'g3', consumed: 1234 }, 60);
      expect((await store.find('RefreshToken', 'r-used'))?.consumed).toBe(1234);
      expect(await store.consume('RefreshToken', 'r-used')).toBe(false);
    });

    it('takes a consume back: the payload is unconsumed and can be consumed once again; a missing one stays missing', async () => {
      await store.upsert('RefreshToken', 'r-back', { grantId: 'g4', accountId: 'a4' }, 60);
      expect(await store.consume('RefreshToken', 'r-back', 'claim-1')).toBe(true);
      if (store.claimsConsumes) {
        // Someone else's claim takes back nothing.
        await store.unconsume('RefreshToken', 'r-back', 'claim-2');
        expect((await store.find('RefreshToken', 'r-back'))?.consumed).toEqual(expect.any(Number));
      }
      await store.unconsume('RefreshToken', 'r-back', 'claim-1');
      expect(await store.find('RefreshToken', 'r-back')).toEqual({ grantId: 'g4', accountId: 'a4' });
      expect(await store.consume('RefreshToken', 'r-back', 'claim-3')).toBe(true);
      expect(await store.consume('RefreshToken', 'r-back', 'claim-4')).toBe(false);
      await store.unconsume('RefreshToken', 'never-stored', 'claim-5');
      expect(await store.find('RefreshToken', 'never-stored')).toBeUndefined();
    });

    it('lets exactly one of N simultaneous consumes win, round after round', async () => {
      const N = 12;
      for (let round = 0; round < 5; round++) {
        for (const model of ['AuthorizationCode', 'RefreshToken']) {
          const id = `race-${model}-${round}`;
          await store.upsert(model, id, { grantId: `g-race-${round}` }, 60);
          const results = await Promise.all(Array.from({ length: N }, () => store.consume(model, id)));
          expect(results.filter((won) => won === true)).toHaveLength(1);
          expect(results.filter((won) => won === false)).toHaveLength(N - 1);
          expect(typeof (await store.find(model, id))?.consumed).toBe('number');
        }
      }
    });

    it('destroys one payload', async () => {
      await store.upsert('Interaction', 'i1', { uid: 'x' }, 60);
      await store.destroy('Interaction', 'i1');
      expect(await store.find('Interaction', 'i1')).toBeUndefined();
    });

    it('revokes every artifact issued from a grant, and nothing else: not an interaction that names it', async () => {
      await store.upsert('AccessToken', 'g3-at', { grantId: 'g3' }, 60);
      await store.upsert('Interaction', 'g3-interaction', { grantId: 'g3', uid: 'g3-interaction' }, 60);
      await store.upsert('RefreshToken', 'g3-rt', { grantId: 'g3' }, 600);
      await store.upsert('AuthorizationCode', 'g3-code', { grantId: 'g3' }, 60);
      await store.upsert('AccessToken', 'g4-at', { grantId: 'g4' }, 60);
      await store.revokeByGrantId('g3');
      expect(await store.find('AccessToken', 'g3-at')).toBeUndefined();
      expect(await store.find('RefreshToken', 'g3-rt')).toBeUndefined();
      expect(await store.find('AuthorizationCode', 'g3-code')).toBeUndefined();
      expect(await store.find('AccessToken', 'g4-at')).toBeDefined();
      expect(await store.find('Interaction', 'g3-interaction')).toBeDefined();
    });

    it('expires payloads after their TTL', async () => {
      await store.upsert('AccessToken', 'short', { grantId: 'g5', accountId: 'acc-exp' }, 1);
      await store.upsert('AccessToken', 'long', { grantId: 'g5', accountId: 'acc-exp' }, 60);
      expect(await store.find('AccessToken', 'short')).toBeDefined();
      await new Promise((r) => setTimeout(r, 2100));
      expect(await store.find('AccessToken', 'short')).toBeUndefined();
      expect(await store.find('AccessToken', 'long')).toBeDefined();
      expect((await store.listByAccount('acc-exp', 'AccessToken')).map((e) => e.id)).toEqual(['long']);
      await store.sweep();
      expect(await store.find('AccessToken', 'long')).toBeDefined();
    });

    it('indexes sessions and grants by account', async () => {
      await store.upsert('Session', 'sess-a', { accountId: 'acc-idx', uid: 'ua' }, 60);
      await store.upsert('Session', 'sess-b', { accountId: 'acc-idx', uid: 'ub' }, 60);
      await store.upsert('Session', 'sess-other', { accountId: 'acc-other', uid: 'uc' }, 60);
      await store.upsert('Grant', 'grant-a', { accountId: 'acc-idx', clientId: 'c' }, 60);
      const sessions = await store.listByAccount('acc-idx', 'Session');
      expect(sessions.map((s) => s.id).sort()).toEqual(['sess-a', 'sess-b']);
      expect(sessions.find((s) => s.id === 'sess-a')?.payload).toMatchObject({ uid: 'ua' });
      expect((await store.listByAccount('acc-idx', 'Grant')).map((g) => g.id)).toEqual(['grant-a']);
      await store.destroy('Session', 'sess-a');
      expect((await store.listByAccount('acc-idx', 'Session')).map((s) => s.id)).toEqual(['sess-b']);
      expect(await store.listByAccount('nobody', 'Session')).toEqual([]);
    });

    it('keeps stored JSON intact, unicode included', async () => {
      const payload = { accountId: 'acc-u', nested: { list: [1, 'two', null], text: 'Zoë ✓ 😀' } };
      await store.upsert('Grant', 'json', payload, 60);
      expect(await store.find('Grant', 'json')).toEqual(payload);
    });
  });
}
