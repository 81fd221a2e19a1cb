import * as client from 'openid-client';
import type { App } from '../../src/app.js';
import { Browser } from './browser.js';
import { registerClient, startSignIn, submitPassword } from './oidc.js';
import { startApp, type RunningApp, type StartAppOptions } from './server.js';
import { TestDnsServer } from './dns.js';
import { TestSmtpServer } from './smtp.js';

export const BOOTSTRAP_ID = 'platform-admin';
export const BOOTSTRAP_SECRET = 'bootstrap-secret-0123456789abcdef0123456789';

export interface AdminHarness {
  running: RunningApp;
  app: App;
  dns: TestDnsServer;
  smtp: TestSmtpServer;
  /** Calls the admin API; `token` defaults to the platform admin's. */
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  platformToken: string;
  /** Signs a user in through the real pages with a first-party client asking for scope admin; returns the access token. */
  userToken(email: string, password: string, scope?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Gatehouse with a bootstrap platform-admin client and a real DNS server on loopback. `options.host`
 * 'localhost' gives an http://localhost:<port> issuer (browser tests, WebAuthn).
 */
export async function startAdminHarness(extraEnv: Record<string, string> = {}, options: StartAppOptions = {}): Promise<AdminHarness> {
  const dns = new TestDnsServer();
  const dnsAddress = await dns.start();
  const smtp = new TestSmtpServer();
  const smtpUrl = await smtp.start();
  const running = await startApp({
    GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
    DNS_SERVERS: dnsAddress,
    // Generous: a slow loopback answer under load must not fail set-up (tests of the timeout set their own).
    DNS_TIMEOUT_MS: '5000',
    SMTP_URL: smtpUrl,
    ...extraEnv,
  }, undefined, options);
  const platform = await client.discovery(new URL(running.issuer), BOOTSTRAP_ID, BOOTSTRAP_SECRET, client.ClientSecretBasic(BOOTSTRAP_SECRET), {
    execute: [client.allowInsecureRequests],
  });
  const platformToken = (await client.clientCredentialsGrant(platform, { scope: 'admin' })).access_token;
  const web = await registerClient(running.app, running.issuer);

  const api: AdminHarness['api'] = async (method, path, body, token = platformToken) => {
    const res = await fetch(`${running.issuer}/admin/v1${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };

  return {
    running,
    app: running.app,
    dns,
    smtp,
    api,
    platformToken,
    async userToken(email, password, scope = 'openid admin') {
      const browser = new Browser();
      const started = await startSignIn(browser, web, { scope, prompt: 'login' });
      const callback = await submitPassword(browser, started.loginPage, email, password);
      const tokens = await client.authorizationCodeGrant(web.config, new URL(callback), {
        pkceCodeVerifier: started.verifier,
        expectedState: started.state,
      });
      return tokens.access_token;
    },
    async stop() {
      await running.stop();
      await dns.stop();
      await smtp.stop();
    },
  };
}
