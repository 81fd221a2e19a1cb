import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { startSignIn, submitPassword, type TestClient } from '../helpers/oidc.js';

/**
 * RFC 8252 §7.3: native apps (mobile, desktop) may register http://localhost redirects, and any port
 * matches at the authorization request, as for the loopback IP literals. Web clients keep exact matching.
 */
const EMAIL = 'oidc.agent.user@example.com';
const PASSWORD = 'Desk-Top-Redirect-7';
let h: AdminHarness;

beforeAll(async () => {
  h = await startAdminHarness();
  const created = await h.api('POST', '/users', { email: EMAIL, password: PASSWORD });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
});
afterAll(() => h.stop());

/** Registers a client through the admin API and discovers the issuer for it with openid-client. */
async function createClient(sessionType: 'web' | 'desktop' | 'mobile', redirectUri: string): Promise<TestClient> {
  const res = await h.api('POST', '/clients', { client_name: `Loopback ${sessionType}`, session_type: sessionType, redirect_uris: [redirectUri] });
  expect(res.status).toBe(201);
  const secret = res.body.client_secret as string | undefined;
  const config = await client.discovery(new URL(h.running.issuer), res.body.client_id, secret, secret ? client.ClientSecretBasic(secret) : client.None(), {
    execute: [client.allowInsecureRequests],
  });
  return { clientId: res.body.client_id, clientSecret: secret, config };
}

/** Where the authorization endpoint sends a fresh browser for this redirect_uri: the sign-in page, or an error page. */
async function authorize(c: TestClient, redirectUri: string) {
  const browser = new Browser();
  const started = await startSignIn(browser, c, { redirect_uri: redirectUri });
  return { browser, started };
}

describe('http://localhost redirects of native apps (RFC 8252 §7.3)', () => {
  it.each(['desktop', 'mobile'] as const)('a %s client registers http://localhost and signs in on another port', async (sessionType) => {
    const app = await createClient(sessionType, 'http://localhost/callback');
    const redirectUri = 'http://localhost:53682/callback';
    const { browser, started } = await authorize(app, redirectUri);
    expect(started.loginPage.html).toContain('autocomplete="current-password"');
    const callback = await submitPassword(browser, started.loginPage, EMAIL, PASSWORD, 'http://localhost:53682/');
    expect(callback.startsWith(`${redirectUri}?`)).toBe(true);
    const tokens = await client.authorizationCodeGrant(app.config, new URL(callback), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
    expect(tokens.id_token).toBeTruthy();
  });

  it('a registered port does not pin the port, but the path and host still must match', async () => {
    const app = await createClient('desktop', 'http://localhost:4000/cb');
    expect((await authorize(app, 'http://localhost:4111/cb')).started.loginPage.html).toContain('autocomplete="current-password"');
    for (const bad of ['http://localhost:4111/other', 'http://127.0.0.1:4000/cb', 'http://localhost.evil.example:4000/cb']) {
      const { started } = await authorize(app, bad);
      expect(started.loginPage.status).toBe(400);
      expect(started.loginPage.html).toContain('invalid_redirect_uri');
    }
  });

  it('web clients keep exact matching: another port on localhost is refused', async () => {
    const web = await createClient('web', 'http://localhost:8080/cb');
    expect((await authorize(web, 'http://localhost:8080/cb')).started.loginPage.html).toContain('autocomplete="current-password"');
    const { started } = await authorize(web, 'http://localhost:9090/cb');
    expect(started.loginPage.status).toBe(400);
    expect(started.loginPage.html).toContain('invalid_redirect_uri');
  });

  it('native apps are still refused http redirects to hosts that are not loopback', async () => {
    const res = await h.api('POST', '/clients', { client_name: 'Bad', session_type: 'desktop', redirect_uris: ['http://localhost.evil.example/cb'] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('loopback host');
  });
});
