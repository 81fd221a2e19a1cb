import { Writable } from 'node:stream';
import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { pino } from 'pino';
import { openServices } from '../../src/services/index.js';
import { Browser } from '../helpers/browser.js';
import { API, registerClient, signIn, type TestClient } from '../helpers/oidc.js';
import { until } from '../helpers/poll.js';
import { startApp, type RunningApp } from '../helpers/server.js';
import { testBackend, type TestBackend } from '../helpers/backend.js';

/**
 * One node keeps its signing keys in step with the database without a restart: a rotation made
 * elsewhere (another node, the CLI) is signed with and published within KEYS_REFRESH_SECONDS; one made
 * through the node itself at once; a failed re-read keeps the keys in use and is logged once.
 */
const EMAIL = 'rota@example.com';
const PASSWORD = 'Pass-word-77';
const RESOURCE_SERVERS = JSON.stringify({ [API]: { scopes: ['read'] } });

const jwksOf = async (issuer: string) => (await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet;
const kidsOf = (jwks: JSONWebKeySet) => jwks.keys.map((k) => k.kid);
/** A JWT access token (RFC 9068) from the client credentials grant. */
const accessToken = async (c: TestClient) => (await client.clientCredentialsGrant(c.config, { resource: API, scope: 'read' })).access_token;
const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

/** Rotates the way another node or `gatehouse keys rotate` does: through services of their own on the same database. */
async function rotateElsewhere(backend: TestBackend) {
  const other = await openServices(backend.config(), { migrate: false });
  try {
    return await other.keys.rotate();
  } finally {
    await other.close();
  }
}

describe('signing keys on a running node', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('a rotation made elsewhere is signed with and published within KEYS_REFRESH_SECONDS, without a restart', async () => {
    const backend = testBackend();
    running = await startApp({ KEYS_REFRESH_SECONDS: '1', RESOURCE_SERVERS }, backend);
    const { app, issuer } = running;
    await app.services.accounts.create({ email: EMAIL, password: PASSWORD });
    const c = await registerClient(app, issuer);
    const before = await jwksOf(issuer);
    const [current, next] = kidsOf(before);
    expect(kidOf(await accessToken(c))).toBe(current);

    const rotated = await rotateElsewhere(backend);
    expect(rotated.current).toBe(next);
    const after = await until('the node publishes the rotated set', async () => {
      const jwks = await jwksOf(issuer);
      return kidsOf(jwks)[0] === next && jwks;
    });
    expect(kidsOf(after)).toEqual([next, rotated.next, current]);
    expect(after.keys.every((k) => !('d' in k))).toBe(true); // still only the public parts

    // New tokens carry the promoted key: JWT access tokens and ID tokens alike.
    const at = await accessToken(c);
    expect(kidOf(at)).toBe(next);
    const { tokens } = await signIn(new Browser(), c, EMAIL, PASSWORD);
    expect(kidOf(tokens.id_token!)).toBe(next);
    // A relying party still holding the JWKS fetched before the rotation verifies them: `next` was in it.
    const stale = createLocalJWKSet(before);
    await jwtVerify(at, stale, { issuer, audience: API });
    await jwtVerify(tokens.id_token!, stale, { issuer, audience: c.clientId });
  });

  it('a rotation through the node itself is applied at once', async () => {
    running = await startApp({ KEYS_REFRESH_SECONDS: '3600', RESOURCE_SERVERS });
    const { app, issuer } = running;
    const c = await registerClient(app, issuer);
    const [current, next] = kidsOf(await jwksOf(issuer));
    const rotated = await app.services.keys.rotate();
    // No waiting: the refresh interval is an hour.
    expect(kidsOf(await jwksOf(issuer))).toEqual([next, rotated.next, current]);
    expect(kidOf(await accessToken(c))).toBe(next);
  });

  it('a failed re-read keeps the keys in use and is logged once, its recovery once', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const backend = testBackend();
    running = await startApp({ KEYS_REFRESH_SECONDS: '1', RESOURCE_SERVERS }, backend, { logger });
    const { app, issuer } = running;
    const c = await registerClient(app, issuer);
    const published = await jwksOf(issuer);
    const [current, next] = kidsOf(published);
    // A stored key that no longer parses: every re-read fails.
    const { private_jwk: good } = (await app.services.db('signing_keys').where({ kid: next }).first()) as { private_jwk: string };
    await app.services.db('signing_keys').where({ kid: next }).update({ private_jwk: '{not json' });
    const failures = () => lines.filter((l) => l.msg === 'reading the signing keys failed: signing with the keys loaded before, retrying every interval');
    await until('the failure is logged', async () => failures().length > 0);
    // Three more intervals (re-reads every second): still one line, the same keys published and signing.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(failures()).toHaveLength(1);
    expect(await jwksOf(issuer)).toEqual(published);
    expect(kidOf(await accessToken(c))).toBe(current);

    await app.services.db('signing_keys').where({ kid: next }).update({ private_jwk: good });
    await until('the recovery is logged', async () => lines.some((l) => l.msg === 'signing keys read again'));
    expect(lines.filter((l) => l.msg === 'signing keys read again')).toHaveLength(1);
    expect(failures()).toHaveLength(1);
  });
});
