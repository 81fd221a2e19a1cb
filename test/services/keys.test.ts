import { openServices, type Services } from '../../src/services/index.js';
import { testBackend } from '../helpers/backend.js';

describe('signing keys', () => {
  const backend = testBackend();
  let services: Services;
  beforeAll(async () => (services = await openServices(backend.config())));
  afterAll(async () => (await services.close(), await backend.cleanup()));

  const states = async () =>
    Object.fromEntries((await services.db('signing_keys').select('kid', 'state')).map((r: { kid: string; state: string }) => [r.kid, r.state]));

  it('creates a current and a next key once, and keeps them across starts', async () => {
    const first = await services.keys.ensure();
    expect(first.keys).toHaveLength(2);
    expect(first.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(first.keys[0]).toHaveProperty('d'); // private: oidc-provider signs with it
    const again = await services.keys.ensure();
    expect(again.keys.map((k) => k.kid)).toEqual(first.keys.map((k) => k.kid));
  });

  it('rotates: next signs, current is retired but still published, a new next appears', async () => {
    const before = (await services.keys.ensure()).keys.map((k) => k.kid);
    const [current, next] = before;
    const result = await services.keys.rotate();
    expect(result.current).toBe(next);
    expect(result.retired).toContain(current);
    const after = (await services.keys.jwks()).keys.map((k) => k.kid);
    expect(after[0]).toBe(next); // first key signs
    expect(after).toContain(current);
    expect(after).toContain(result.next);
    expect(await states()).toMatchObject({ [current!]: 'retired', [next!]: 'current', [result.next]: 'next' });
  });

  it('drops retired keys once nothing they signed can still be valid', async () => {
    const { retired } = await services.keys.rotate();
    await services.db('signing_keys').where({ state: 'retired' }).update({ state_changed_at: 1 });
    const result = await services.keys.rotate();
    expect(result.removed.sort()).toEqual(retired.sort());
    expect(Object.keys(await states())).not.toEqual(expect.arrayContaining(retired));
  });
});
