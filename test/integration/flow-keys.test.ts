import { Browser } from '../helpers/browser.js';
import { registerClient, signIn } from '../helpers/oidc.js';
import { startApp, type RunningApp } from '../helpers/server.js';

/**
 * A sign-in's flow state lives only as long as the sign-in: nothing of it is left in the artifact store
 * once the sign-in is done. (On Redis, a flow saved with its uid in the payload left a uid → id key
 * behind, two per sign-in, until the flow's TTL; bench:scale counts the keys a sign-in leaves.)
 */
let running: RunningApp;
beforeAll(async () => {
  running = await startApp();
});
afterAll(() => running.stop());

it('a finished sign-in leaves no key or row of its flow behind', async () => {
  const { app, issuer } = running;
  await app.services.accounts.create({ email: 'walker@example.com', password: 'Quiet-Harbor-42' });
  const web = await registerClient(app, issuer);
  const { tokens } = await signIn(new Browser(), web, 'walker@example.com', 'Quiet-Harbor-42');
  expect(tokens.access_token).toBeTruthy();
  const { redis } = app.services;
  if (redis) {
    const keys = await redis.keys(`${app.config.redis!.prefix}*`);
    expect(keys.filter((k) => k.includes('SignInFlow'))).toEqual([]);
    // The sign-in did write to Redis (this is the store the flows live in).
    expect(keys.some((k) => k.includes(':Session:'))).toBe(true);
  } else {
    expect(Number((await app.services.db('oidc_payloads').where({ model: 'SignInFlow' }).count({ n: '*' }).first())!.n)).toBe(0);
  }
});
