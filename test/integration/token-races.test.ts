import { Browser } from '../helpers/browser.js';
import { registerClient, RP_CALLBACK, signIn, startSignIn, submitPassword, type TestClient } from '../helpers/oidc.js';
import { startApp, type RunningApp } from '../helpers/server.js';

/**
 * Item 4 of issue 7: an authorization code or a refresh token is single-use on every backend, also when
 * N requests redeem it at the same moment. Exactly one gets tokens, the others get invalid_grant, and the
 * lost race counts as reuse: the grant is revoked, so even the winner's tokens stop working.
 */
const EMAIL = 'racer@example.com';
const PASSWORD = 'Racing-Horse-42';
const N = 8;
const ROUNDS = 3;

let running: RunningApp;
let web: TestClient;

beforeAll(async () => {
  running = await startApp();
  await running.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
  web = await registerClient(running.app, running.issuer);
});
afterAll(() => running.stop());

/** One raw token-endpoint request, as a relying party sends it (client_secret_basic, form body). */
async function tokenRequest(params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const basic = Buffer.from(`${encodeURIComponent(web.clientId)}:${encodeURIComponent(web.clientSecret!)}`).toString('base64');
  const res = await fetch(`${running.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Fires the same request N times at once and sorts the answers into winners and losers. */
async function race(params: Record<string, string>) {
  const answers = await Promise.all(Array.from({ length: N }, () => tokenRequest(params)));
  return {
    winners: answers.filter((a) => a.status === 200),
    losers: answers.filter((a) => a.status !== 200),
  };
}

async function userinfoStatus(accessToken: string): Promise<number> {
  const res = await fetch(`${running.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.arrayBuffer();
  return res.status;
}

function expectGrantRevoked(winner: Record<string, unknown>) {
  return Promise.all([
    expect(tokenRequest({ grant_type: 'refresh_token', refresh_token: String(winner.refresh_token) })).resolves.toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    }),
    expect(userinfoStatus(String(winner.access_token))).resolves.toBe(401),
  ]);
}

describe('simultaneous redemptions of one code or refresh token', () => {
  it(`N=${N} token requests with the same authorization code: one 200, the rest invalid_grant, grant revoked`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const browser = new Browser();
      const { verifier, loginPage } = await startSignIn(browser, web);
      const callback = new URL(await submitPassword(browser, loginPage, EMAIL, PASSWORD));
      const code = callback.searchParams.get('code')!;
      expect(code).toBeTruthy();

      const { winners, losers } = await race({ grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: verifier });
      expect(winners).toHaveLength(1);
      for (const loser of losers) expect(loser).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(winners[0]!.body.refresh_token).toBeTruthy();
      await expectGrantRevoked(winners[0]!.body);
    }
  });

  it(`N=${N} refresh requests with the same refresh token: one 200, the rest invalid_grant, grant revoked`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { tokens } = await signIn(new Browser(), web, EMAIL, PASSWORD);
      expect(tokens.refresh_token).toBeTruthy();

      const { winners, losers } = await race({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      expect(winners).toHaveLength(1);
      for (const loser of losers) expect(loser).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(winners[0]!.body.refresh_token).toBeTruthy();
      await expectGrantRevoked(winners[0]!.body);
    }
  });

  it('an unraced code and refresh token still work once (no false alarms)', async () => {
    const { tokens } = await signIn(new Browser(), web, EMAIL, PASSWORD);
    const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect(await userinfoStatus(String(refreshed.body.access_token))).toBe(200);
    const again = await tokenRequest({ grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token) });
    expect(again.status).toBe(200);
  });
});
