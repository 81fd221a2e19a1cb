import { request as httpRequest } from 'node:http';
import * as client from 'openid-client';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { authorizationUrl, RP_LOGGED_OUT, registerClient, signIn, type TestClient } from '../helpers/oidc.js';
import { startApp, type RunningApp } from '../helpers/server.js';
import { resetLinkIn } from '../helpers/smtp.js';

/**
 * Every URL Gatehouse publishes, redirects to or mails comes from ISSUER. The Host header and the
 * forwarding headers are the caller's to choose (X-Forwarded-* even from a trusted proxy, which passes
 * on what the client sent), so they must change none of them.
 */
const HOSTILE = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-port': '8443',
  forwarded: 'host=evil.example;proto=https',
};
const PASSWORD = 'Pinned-Issuer-Pass-3';

/** An HTTP request with exactly these headers (fetch would replace Host), answered without following redirects. */
function rawRequest(
  url: string,
  headers: Record<string, string>,
  method = 'GET',
  body?: string,
  /** The request target as sent; default the path and query of `url`. */
  target?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port, pathname, search } = new URL(url);
  const options = { hostname, port, path: target ?? `${pathname}${search}`, method, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } };
  return new Promise((resolve, reject) => {
    const req = httpRequest(options, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every string in a JSON document that is an absolute http(s) URL. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^https?:\/\//.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

/** An absolute Location, resolved against the issuer when relative (a relative one stays on whatever the browser used). */
const locationOf = (issuer: string, res: { headers: Record<string, string | string[] | undefined> }) => new URL(String(res.headers.location), `${issuer}/`).href;

describe.each([
  ['without TRUSTED_PROXIES', {}],
  ['with TRUSTED_PROXIES naming the caller', { TRUSTED_PROXIES: '127.0.0.1' }],
])('%s, Host and X-Forwarded-Host change no URL', (_label, env: Record<string, string>) => {
  let h: AdminHarness;
  let issuer: string;
  let web: TestClient;
  let email: string;
  let n = 0;
  beforeAll(async () => {
    h = await startAdminHarness(env);
    issuer = h.running.issuer;
    web = await registerClient(h.app, issuer);
  });
  beforeEach(async () => {
    email = `pinned${++n}@example.com`;
    expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
  });
  afterAll(() => h.stop());

  it('discovery: every URL, the JWKS URI among them, starts with the issuer', async () => {
    const res = await rawRequest(`${issuer}/.well-known/openid-configuration`, HOSTILE);
    expect(res.status).toBe(200);
    const meta = JSON.parse(res.body) as Record<string, unknown>;
    expect(meta.issuer).toBe(issuer);
    const urls = urlsIn(meta);
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) expect(url.startsWith(`${issuer}/`) || url === issuer).toBe(true);
    expect(meta.jwks_uri).toBe(`${issuer}/jwks`);
    // Where relying parties link their users to the account center, and the pages' languages.
    expect(meta.account_url).toBe(`${issuer}/account`);
    expect(meta.ui_locales_supported).toEqual(['en', 'vi']);
  });

  it('an absolute request target (GET http://evil.example/…) changes nothing either', async () => {
    const res = await rawRequest(`${issuer}/.well-known/openid-configuration`, HOSTILE, 'GET', undefined, 'http://evil.example/.well-known/openid-configuration');
    expect(res.status).toBe(200);
    for (const url of urlsIn(JSON.parse(res.body))) expect(url.startsWith(`${issuer}/`) || url === issuer).toBe(true);
  });

  it('the sign-in redirects stay on the issuer: to the interaction, and back to the authorization endpoint after the password', async () => {
    const url = await authorizationUrl(web);
    const res = await rawRequest(url, HOSTILE);
    expect(res.status).toBe(303);
    const interaction = locationOf(issuer, res);
    expect(interaction.startsWith(`${issuer}/interaction/`)).toBe(true);
    // Carry the interaction cookies into a browser and sign in there; the answer must return to the issuer.
    const jar = new Browser();
    for (const cookie of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) await jar.jar.setCookie(cookie, interaction, { ignoreError: true });
    const page = await jar.page(interaction);
    const done = await jar.submit(page, 'form[action$="/password"]', { email, password: PASSWORD }, HOSTILE);
    expect(done.status).toBe(303);
    expect(new URL(done.headers.get('location')!, issuer).href.startsWith(`${issuer}/`)).toBe(true);
  });

  it('the end-session form posts to the issuer', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, web, email, PASSWORD);
    const url = client.buildEndSessionUrl(web.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT }).href;
    const res = await rawRequest(url, { ...HOSTILE, cookie: await browser.jar.getCookieString(url) });
    expect(res.status).toBe(200);
    const actions = [...res.body.matchAll(/action="([^"]+)"/g)].map((m) => new URL(m[1]!, `${issuer}/`).href);
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) expect(action.startsWith(`${issuer}/`)).toBe(true);
  });

  it('a forgot-password mail links to the issuer', async () => {
    const browser = new Browser();
    const form = await browser.page(`${issuer}/password/forgot`);
    const before = h.smtp.received.length;
    // fetch cannot change Host, so the browser sends the forwarding headers; the raw request below changes Host too.
    const res = await browser.submit(form, 'form[action="/password/forgot"]', { email }, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(res.status).toBe(200);
    const link = resetLinkIn(await h.smtp.waitFor((m) => m.to === email && m.subject.includes('Reset'), before));
    expect(link.startsWith(`${issuer}/password/reset?token=`)).toBe(true);

    const cookie = await browser.jar.getCookieString(`${issuer}/password/forgot`);
    const csrf = form.doc.querySelector('input[name="csrf"]')!.getAttribute('value')!;
    const again = h.smtp.received.length;
    const raw = await rawRequest(`${issuer}/password/forgot`, { ...HOSTILE, cookie, 'content-type': 'application/x-www-form-urlencoded' }, 'POST', new URLSearchParams({ csrf, email }).toString());
    expect(raw.status).toBe(200);
    const second = resetLinkIn(await h.smtp.waitFor((m) => m.to === email && m.subject.includes('Reset'), again));
    expect(second.startsWith(`${issuer}/password/reset?token=`)).toBe(true);
  });
});

describe('an https ISSUER served over plain http (TLS ends at a proxy Gatehouse was not told about)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ ISSUER: 'https://id.gatehouse.test' });
  });
  afterAll(() => running?.stop());

  it('publishes the https URLs of the issuer, whatever Host the request carried', async () => {
    for (const headers of [{}, HOSTILE]) {
      const meta = JSON.parse((await rawRequest(`${running.issuer}/.well-known/openid-configuration`, headers)).body) as Record<string, unknown>;
      expect(meta.issuer).toBe('https://id.gatehouse.test');
      for (const url of urlsIn(meta)) expect(url === 'https://id.gatehouse.test' || url.startsWith('https://id.gatehouse.test/')).toBe(true);
    }
  });
});
