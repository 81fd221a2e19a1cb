import { Cluster } from 'ioredis';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { connectRedis, PG_URL } from '../helpers/backend.js';
import { RP_CALLBACK, RP_LOGGED_OUT, signIn, type TestClient } from '../helpers/oidc.js';
import { startGatehouseProcess, type GatehouseProcess } from '../helpers/process.js';
import { PrivateRedisCluster, REDIS_TOPOLOGY_SKIP } from '../helpers/redis-topologies.js';

/**
 * Item 8 of issue 9, end to end: Gatehouse as `npm start` runs it (a child process), on the SQL database
 * the environment names (PostgreSQL in .ci/run) and a private 3-master Redis Cluster given as
 * REDIS_URL=redis+cluster://…: a sign-in, a refresh, a replayed refresh token revoking the grant, a
 * sign-out of every session. Each of these writes or deletes keys on several masters at once.
 */
const PASSWORD = 'Cluster-Lamp-4410';
const PREFIX = 'gh:e2e-cluster:';

if (REDIS_TOPOLOGY_SKIP) {
  console.warn(REDIS_TOPOLOGY_SKIP);
  test.skip(REDIS_TOPOLOGY_SKIP, () => undefined);
} else {
  let cluster: PrivateRedisCluster;
  let gh: GatehouseProcess;
  let web: TestClient;

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start({ masters: 3 });
    gh = await startGatehouseProcess({ REDIS_URL: cluster.url, REDIS_KEY_PREFIX: PREFIX });
    const res = await gh.api('POST', '/clients', {
      client_name: 'Cluster app',
      session_type: 'web',
      redirect_uris: [RP_CALLBACK],
      post_logout_redirect_uris: [RP_LOGGED_OUT],
    });
    expect(res.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = res.body as { client_id: string; client_secret: string };
    const config = await client.discovery(new URL(gh.issuer), clientId, secret, client.ClientSecretBasic(secret), {
      execute: [client.allowInsecureRequests],
    });
    web = { clientId, clientSecret: secret, config };
  }, 90_000);

  afterAll(async () => {
    await gh?.stop();
    await cluster?.stop();
  });

  /** How many of Gatehouse's keys each master holds. */
  async function keysPerMaster(): Promise<number[]> {
    const redis = (await connectRedis(cluster.url)) as Cluster;
    try {
      return await Promise.all(redis.nodes('master').map(async (m) => (await m.keys(`${PREFIX}*`)).length));
    } finally {
      await redis.quit();
    }
  }

  it(`signs in, refreshes, and revokes a grant on a Redis Cluster (SQL: ${PG_URL ? 'PostgreSQL' : 'SQLite'})`, async () => {
    const ready = await fetch(`${gh.issuer}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { redis: 'ok' } });

    const email = `cluster.${Date.now().toString(36)}@example.com`;
    expect((await gh.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);

    const browser = new Browser();
    const { tokens } = await signIn(browser, web, email, PASSWORD);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const info = await client.fetchUserInfo(web.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.email).toBe(email);

    // Session, grant, tokens and their indexes lie on more than one master.
    expect((await keysPerMaster()).filter((n) => n > 0).length).toBeGreaterThan(1);

    // A rotating refresh: the new token works, the old one is consumed.
    const refreshed = await client.refreshTokenGrant(web.config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await client.fetchUserInfo(web.config, refreshed.access_token, tokens.claims()!.sub)).email).toBe(email);

    // Replaying the consumed refresh token is refused and revokes the whole grant: the newer refresh
    // token and access token go with it (revocation by grant, across slots).
    await expect(client.refreshTokenGrant(web.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.refreshTokenGrant(web.config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(web.config, refreshed.access_token, tokens.claims()!.sub)).rejects.toBeDefined();

    // A new sign-in works after the revocation.
    const again = await signIn(new Browser(), web, email, PASSWORD);
    expect((await client.refreshTokenGrant(web.config, again.tokens.refresh_token!)).access_token).toBeTruthy();

    // Nothing failed inside: no error logged, Redis never reported down.
    expect(gh.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(gh.logs.filter((l) => l.event === 'dependency.down')).toEqual([]);
  }, 90_000);
}
