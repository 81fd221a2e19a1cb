import * as client from 'openid-client';
import type { App } from '../../src/app.js';
import { Browser, type Page } from './browser.js';

export const RP = 'http://127.0.0.1:8999';
export const RP_CALLBACK = `${RP}/callback`;
export const RP_LOGGED_OUT = `${RP}/logged-out`;
export const API = 'https://api.gatehouse.test/';

export interface TestClient {
  clientId: string;
  clientSecret?: string;
  config: client.Configuration;
}

/** Registers a client through the service (as the CLI does) and discovers the issuer with openid-client. */
export async function registerClient(
  app: App,
  issuer: string,
  opts: { sessionType?: 'web' | 'mobile' | 'desktop'; redirectUri?: string; thirdParty?: boolean; backchannelLogoutUri?: string } = {},
): Promise<TestClient> {
  const sessionType = opts.sessionType ?? 'web';
  const { client: record, clientSecret } = await app.services.clients.create({
    clientName: `Test ${sessionType} app`,
    sessionType,
    redirectUris: [opts.redirectUri ?? RP_CALLBACK],
    postLogoutRedirectUris: [RP_LOGGED_OUT],
    thirdParty: opts.thirdParty,
    backchannelLogoutUri: opts.backchannelLogoutUri,
  });
  const auth = clientSecret ? client.ClientSecretBasic(clientSecret) : client.None();
  const config = await client.discovery(new URL(issuer), record.clientId, clientSecret, auth, {
    execute: [client.allowInsecureRequests],
  });
  return { clientId: record.clientId, clientSecret, config };
}

/** An authorization URL (scope openid, the test callback, a fresh PKCE challenge) for requests whose code is not exchanged. */
export async function authorizationUrl(c: TestClient): Promise<string> {
  return client.buildAuthorizationUrl(c.config, {
    redirect_uri: RP_CALLBACK,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  }).href;
}

export interface StartedSignIn {
  verifier: string;
  state: string;
  loginPage: Page;
}

/** Starts an authorization request in the browser and returns the sign-in page it lands on. */
export async function startSignIn(
  browser: Browser,
  c: TestClient,
  params: Record<string, string> = {},
): Promise<StartedSignIn> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(c.config, {
    redirect_uri: params.redirect_uri ?? RP_CALLBACK,
    scope: 'openid email profile offline_access',
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...params,
  });
  return { verifier, state, loginPage: await browser.page(url.href) };
}

/** Completes the password step through the HTML form; returns the callback URL the browser was sent to. */
export async function submitPassword(browser: Browser, loginPage: Page, email: string, password: string, callbackPrefix = RP): Promise<string> {
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
  if (res.status !== 303) throw new Error(`password step answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const next = await browser.follow(new URL(res.headers.get('location')!, loginPage.url).href, (u) => u.startsWith(callbackPrefix));
  if (!('redirectedTo' in next)) throw new Error(`sign-in did not reach the client: ${next.status} ${next.html.slice(0, 300)}`);
  return next.redirectedTo;
}

/** A full sign-in: authorize, password form, code exchange. */
export async function signIn(
  browser: Browser,
  c: TestClient,
  email: string,
  password: string,
  params: Record<string, string> = {},
) {
  const started = await startSignIn(browser, c, params);
  const callback = await submitPassword(browser, started.loginPage, email, password);
  const tokens = await client.authorizationCodeGrant(c.config, new URL(callback), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
  });
  return { tokens, callback, ...started };
}
