import * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { registerClient, RP, RP_CALLBACK, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';

/**
 * Issue 7, item 3: the admin scope and the admin API resource are never granted to a third-party
 * client, whatever the user consents to ("Who may administer whom").
 */
let h: AdminHarness;
let orgId: string;
let adminResource: string;
const EMAIL = 'admin@tp.example';
const PASSWORD = 'Pass-word-1';

beforeAll(async () => {
  h = await startAdminHarness();
  adminResource = `${h.running.issuer}/admin/v1`;
  orgId = (await h.api('POST', '/organizations', { name: 'Third parties' })).body.id;
  const user = await h.api('POST', '/users', { email: EMAIL, password: PASSWORD });
  expect(user.status).toBe(201);
  expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: user.body.id, role: 'owner' })).status).toBe(200);
});
afterAll(() => h.stop());

/** Signs in through the real pages as the organization's owner, and clicks Allow on the consent page. */
async function consentAndExchange(app: TestClient, params: Record<string, string>) {
  const browser = new Browser();
  const started = await startSignIn(browser, app, { prompt: 'consent', ...params });
  const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: EMAIL, password: PASSWORD });
  expect(res.status).toBe(303);
  const consent = await browser.follow(new URL(res.headers.get('location')!, started.loginPage.url).href, (u) => u.startsWith(RP));
  if ('redirectedTo' in consent) throw new Error('a third-party client skipped the consent page');
  const page = consent as Page;
  expect(page.doc.querySelector('form[action$="/consent"]')).toBeTruthy();
  const allow = await browser.submit(page, 'form[action$="/consent"]', { decision: 'allow' });
  const back = await browser.follow(new URL(allow.headers.get('location')!, page.url).href, (u) => u.startsWith(RP));
  if (!('redirectedTo' in back)) throw new Error(`no redirect to the client: ${back.status}`);
  const tokens = await client.authorizationCodeGrant(app.config, new URL(back.redirectedTo), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
  });
  return { tokens, consentHtml: page.html };
}

const adminCall = (token: string) => h.api('GET', `/organizations/${orgId}`, undefined, token);

describe('admin API tokens and third-party clients', () => {
  it('an owner who clicks Allow for "openid admin" on a third-party client gives it no admin token', async () => {
    const thirdParty = await registerClient(h.app, h.running.issuer, { thirdParty: true });
    const { tokens, consentHtml } = await consentAndExchange(thirdParty, { scope: 'openid admin offline_access' });
    // The consent page never offered the admin API; the admin scope was dropped.
    expect(consentHtml).not.toContain(adminResource);
    expect(String(tokens.scope ?? '').split(' ')).not.toContain('admin');
    const res = await adminCall(tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.body.type).toBe('urn:gatehouse:problem:forbidden');
    // A refresh asking for the admin API explicitly is refused too.
    await expect(client.refreshTokenGrant(thirdParty.config, tokens.refresh_token!, { resource: adminResource })).rejects.toMatchObject({
      error: 'invalid_target',
    });
  });

  it('naming the admin API as resource is refused at once with invalid_target', async () => {
    const thirdParty = await registerClient(h.app, h.running.issuer, { thirdParty: true });
    const url = client.buildAuthorizationUrl(thirdParty.config, {
      redirect_uri: RP_CALLBACK,
      scope: 'openid admin',
      resource: adminResource,
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: 'st',
    });
    const result = await new Browser().follow(url.href, (u) => u.startsWith(RP));
    if (!('redirectedTo' in result)) throw new Error(`expected a redirect to the client, got ${result.status}`);
    const params = new URL(result.redirectedTo).searchParams;
    expect(params.get('error')).toBe('invalid_target');
    expect(params.get('error_description')).toContain('third-party');
  });

  it('a first-party client still gets a working admin token', async () => {
    const firstParty = await registerClient(h.app, h.running.issuer);
    const { tokens } = await signIn(new Browser(), firstParty, EMAIL, PASSWORD, { scope: 'openid admin offline_access' });
    expect((await adminCall(tokens.access_token)).status).toBe(200);
    const refreshed = await client.refreshTokenGrant(firstParty.config, tokens.refresh_token!);
    expect((await adminCall(refreshed.access_token)).status).toBe(200);
  });

  it('a client that becomes third-party loses the admin API at once: its admin tokens stop working, its refresh is refused', async () => {
    const app = await registerClient(h.app, h.running.issuer);
    const { tokens } = await signIn(new Browser(), app, EMAIL, PASSWORD, { scope: 'openid admin offline_access' });
    expect((await adminCall(tokens.access_token)).status).toBe(200);
    const row = await h.app.services.db('clients').where({ client_id: app.clientId }).first();
    const metadata = { ...JSON.parse(row.metadata), first_party: false };
    await h.app.services.db('clients').where({ client_id: app.clientId }).update({ first_party: false, metadata: JSON.stringify(metadata) });

    const res = await adminCall(tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain('first-party');
    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_target' });
  });
});
