import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn } from '../helpers/oidc.js';
import { startApp } from '../helpers/server.js';
import { testBackend } from '../helpers/backend.js';

const EMAIL = 'kim@example.com';
const PASSWORD = 'Pass-word-77';

const jwksOf = async (issuer: string) => (await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet;

test('keys and tokens survive a restart; a rotation switches signing keys the documented way', async () => {
  const backend = testBackend();
  const first = await startApp({}, backend);
  await first.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
  const c1 = await registerClient(first.app, first.issuer, { sessionType: 'mobile', redirectUri: 'http://127.0.0.1/callback' });
  const { tokens: before } = await signIn(new Browser(), c1, EMAIL, PASSWORD, { redirect_uri: 'http://127.0.0.1:8999/callback' });
  const jwks1 = await jwksOf(first.issuer);
  const [current, next] = jwks1.keys.map((k) => k.kid);
  expect(decodeProtectedHeader(before.id_token!).kid).toBe(current);
  expect(jwks1.keys.every((k) => !('d' in k))).toBe(true); // only public parts are published

  const rotated = await first.app.services.keys.rotate();
  await first.stop({ keepData: true });

  const second = await startApp({}, backend);
  try {
    const jwks2 = await jwksOf(second.issuer);
    expect(jwks2.keys.map((k) => k.kid)).toEqual([next, rotated.next, current]);
    // A token signed before the rotation still verifies against the published set.
    await jwtVerify(before.id_token!, createLocalJWKSet(jwks2), { audience: c1.clientId });

    // The refresh token issued before the restart still works, and new tokens carry the new key.
    const c2 = await client.discovery(new URL(second.issuer), c1.clientId, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const refreshed = await client.refreshTokenGrant(c2, before.refresh_token!);
    expect(decodeProtectedHeader(refreshed.id_token!).kid).toBe(next);
  } finally {
    await second.stop();
  }
});
