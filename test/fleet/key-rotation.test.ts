import { jest } from '@jest/globals';
import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Browser } from '../helpers/browser.js';
import { FLEET_BACKENDS, FLEET_SKIP_REASON, PIN_HEADER, startFleet, type Fleet } from '../helpers/fleet.js';
import { API, RP_CALLBACK, RP_LOGGED_OUT, signIn, type TestClient } from '../helpers/oidc.js';
import { until } from '../helpers/poll.js';

/**
 * A key rotation made through one node of three is signed with and published by all of them within
 * KEYS_REFRESH_SECONDS, without a restart: the rotating node at once, the others at their next re-read.
 * Every token signed meanwhile, by whichever node, verifies against the JWKS a relying party fetched
 * before the rotation (the promoted key was published as `next`) and against every node's new JWKS.
 */
const describeFleet = FLEET_BACKENDS ? describe : describe.skip;
if (!FLEET_BACKENDS) {
  describe('fleet key rotation', () => {
    it.skip(`skipped: ${FLEET_SKIP_REASON}`, () => undefined);
  });
}

jest.setTimeout(90_000);

const PASSWORD = 'Fleet-Pass-Word-42';
/** Each node re-reads the keys every second: the bound this test holds the fleet to is a few of those. */
const REFRESH_SECONDS = 1;
const DEADLINE_MS = 20_000;

let fleet: Fleet;
let web: TestClient;

if (FLEET_BACKENDS) {
  beforeAll(async () => {
    fleet = await startFleet({
      env: { KEYS_REFRESH_SECONDS: String(REFRESH_SECONDS), RESOURCE_SERVERS: JSON.stringify({ [API]: { scopes: ['read'] } }) },
    });
    const res = await fleet.api('POST', '/clients', { client_name: 'Fleet keys app', session_type: 'web', redirect_uris: [RP_CALLBACK], post_logout_redirect_uris: [RP_LOGGED_OUT] });
    expect(res.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = res.body as { client_id: string; client_secret: string };
    const config = await client.discovery(new URL(fleet.issuer), clientId, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] });
    web = { clientId, clientSecret: secret, config };
  }, 60_000);
  afterAll(async () => fleet?.stop());
}

const jwksOn = async (node: number) => (await (await fetch(`${fleet.issuer}/jwks`, { headers: { [PIN_HEADER]: String(node) } })).json()) as JSONWebKeySet;
const kidsOf = (jwks: JSONWebKeySet) => jwks.keys.map((k) => k.kid);
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

/** Runs `fn` with every request routed to `node`. */
async function on<T>(node: number, fn: () => Promise<T>): Promise<T> {
  fleet.pin(node);
  try {
    return await fn();
  } finally {
    fleet.pin(null);
  }
}
/** A JWT access token (RFC 9068) signed by `node`. */
const accessTokenOn = (node: number) => on(node, async () => (await client.clientCredentialsGrant(web.config, { resource: API, scope: 'read' })).access_token);

describeFleet('signing keys across three nodes', () => {
  it('a rotation through node 0 is used and published by every node within the refresh bound, and every token verifies throughout', async () => {
    const nodes = fleet.nodes.map((n) => n.index);
    const email = `keys.${Date.now().toString(36)}@fleet.example`;
    expect((await fleet.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
    const { tokens } = await signIn(new Browser(), web, email, PASSWORD);
    let refreshToken = tokens.refresh_token!;
    /** A fresh ID token signed by `node` (a refresh grant there). */
    const idTokenOn = (node: number) =>
      on(node, async () => {
        const refreshed = await client.refreshTokenGrant(web.config, refreshToken);
        refreshToken = refreshed.refresh_token!;
        return refreshed.id_token!;
      });

    // A relying party fetched the JWKS before the rotation, and keeps it.
    const before = await jwksOn(0);
    for (const i of nodes) expect(await jwksOn(i)).toEqual(before);
    const [current, next] = kidsOf(before);
    for (const i of nodes) expect(kidOf(await accessTokenOn(i))).toBe(current);

    const rotation = await fleet.api('POST', '/keys/rotate', undefined, { node: 0 });
    const rotatedAt = Date.now();
    expect(rotation).toMatchObject({ status: 200, body: { current: next, retired: [current] } });
    const fresh = rotation.body.next as string;
    const rotated = [next, fresh, current];

    // Node 0 applied it at once.
    const signed: string[] = [];
    expect(kidsOf(await jwksOn(0))).toEqual(rotated);
    signed.push(await accessTokenOn(0), await idTokenOn(0));
    expect(signed.map(kidOf)).toEqual([next, next]);

    // The others within the bound: each publishes the new set and signs access and ID tokens with the promoted key.
    const caughtUp = new Set<number>([0]);
    const seen: Record<number, unknown> = {};
    await until(
      'every node publishes the rotated set and signs with the promoted key',
      async () => {
        for (const i of nodes.filter((n) => !caughtUp.has(n))) {
          const kids = kidsOf(await jwksOn(i));
          const at = await accessTokenOn(i);
          const id = await idTokenOn(i);
          signed.push(at, id);
          seen[i] = { kids, at: kidOf(at), id: kidOf(id) };
          if (JSON.stringify(kids) === JSON.stringify(rotated) && kidOf(at) === next && kidOf(id) === next) caughtUp.add(i);
        }
        return caughtUp.size === nodes.length;
      },
      { deadlineMs: DEADLINE_MS, everyMs: 250, last: () => seen },
    );
    const tookMs = Date.now() - rotatedAt;
    process.stdout.write(`fleet key rotation: all ${nodes.length} nodes signing and publishing the new keys ${tookMs} ms after the rotation (KEYS_REFRESH_SECONDS=${REFRESH_SECONDS})\n`);

    // Every token signed since the rotation, by any node, lagging or not, verifies for a relying party
    // holding the JWKS from before the rotation, and for one that fetched it again from any node.
    const stale = createLocalJWKSet(before);
    const renewed = createLocalJWKSet(await jwksOn(1));
    for (const jwt of signed) {
      const audience = decodeProtectedHeader(jwt).typ === 'at+jwt' ? API : web.clientId;
      await jwtVerify(jwt, stale, { issuer: fleet.issuer, audience });
      await jwtVerify(jwt, renewed, { issuer: fleet.issuer, audience });
    }
  });
});
