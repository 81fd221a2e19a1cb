import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { registerClient, signIn, type TestClient } from '../helpers/oidc.js';

/** An attacker's review of the account center and the language links (issue 10). */
const PASSWORD = 'Attack-Pass-1';

let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;

/** A browser on a network: every request carries that address through the trusted proxy. */
class Device extends Browser {
  constructor(public address?: string) {
    super();
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.address && !headers.has('x-forwarded-for')) headers.set('x-forwarded-for', this.address);
    return super.request(url, { ...init, headers });
  }
}

beforeAll(async () => {
  h = await startAdminHarness({ TRUSTED_PROXIES: '127.0.0.1' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = (await h.api('POST', '/organizations', { name: 'Attack' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'attack.example' });
  h.dns.txt.set('_gatehouse-challenge.attack.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/attack.example/verify`)).body.status).toBe('verified');
});
afterAll(() => h.stop());

async function user() {
  const email = `a${++n}@attack.example`;
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

describe('the IP whitelist guard of /account', () => {
  it('holds for every spelling of an account path (case, trailing slash, double slash)', async () => {
    const u = await user();
    const browser = new Device();
    await signIn(browser, web, u.email, PASSWORD);
    expect((await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } } })).status).toBe(200);
    try {
      for (const path of ['/account', '/ACCOUNT', '/Account/sessions', '/account/sessions/', '/account/ACTIVITY', '/account//sessions', '/Account/Security', '/%61ccount', '/%61ccount/sessions', '/account%2Fsessions', '/account/sessions;x']) {
        const res = await browser.request(`${h.running.issuer}${path}`, { redirect: 'manual' });
        const body = await res.text();
        expect([403, 404]).toContain(res.status);
        expect(body).not.toContain(u.email);
      }
      // A form too: the password cannot be changed from outside through another spelling of its path.
      const changed = await browser.request(`${h.running.issuer}/ACCOUNT/PASSWORD`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ currentPassword: PASSWORD, newPassword: 'Other-Pass-22', confirmPassword: 'Other-Pass-22' }).toString(),
      });
      expect(changed.status).toBe(403);
      expect(await changed.text()).toContain('does not allow');
    } finally {
      await h.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: { login: { ipWhitelist: { enabled: false, cidrs: [] } } } });
    }
  });
});

describe('language links', () => {
  it('never point off the site, whatever the path asked', async () => {
    for (const path of ['//evil.example/x', '//evil.example', '/\\evil.example', '///evil.example/account']) {
      const res = await fetch(`${h.running.issuer.replace(/\/$/, '')}${path}`, { redirect: 'manual' });
      const body = await res.text();
      const hrefs = [...body.matchAll(/hreflang="[a-z]+"|href="([^"]*)"/g)].map((x) => x[1]).filter(Boolean);
      for (const href of hrefs) expect(href).not.toMatch(/^\/\/|^\/\\|^[a-z]+:/i);
    }
  });
});
