import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser } from '../helpers/browser.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, postForm, submitAndRead } from '../helpers/console.js';

/**
 * The console's foundation and its Domain page, through the real forms: sign-in to the console through
 * Gatehouse's own pages, the server-side console session, refusals, and claim → TXT → verify → revoke
 * against a real DNS server on loopback.
 */
let h: AdminHarness;
const PASSWORD = 'Console-pass-1';
const orgs: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await startAdminHarness({ DNS_TIMEOUT_MS: '500' });
  for (const name of ['acme', 'other']) {
    const res = await h.api('POST', '/organizations', { name: `${name} corp` });
    orgs[name] = res.body.id;
  }
  const users: [string, string, 'owner' | 'member'][] = [
    ['owner@acme.test', 'acme', 'owner'],
    ['member@acme.test', 'acme', 'member'],
    ['owner@other.test', 'other', 'owner'],
  ];
  for (const [email, org, role] of users) {
    const u = await h.api('POST', '/users', { email, password: PASSWORD });
    ids[email] = u.body.id;
    expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: u.body.id, role })).status).toBe(200);
  }
  // Users on the domains, for the revocation count.
  for (const email of ['ann@acme.test', 'bob@acme.test']) expect((await h.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
});
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;

const signInToConsole = (email: string, browser = new Browser()) => consoleSignIn(h.running.issuer, email, PASSWORD, browser);
const domainPath = (org: string) => `/console/orgs/${orgs[org]}/domain`;
const text = mainText;

describe('console sign-in and session', () => {
  it('an anonymous visitor is sent to the Gatehouse sign-in page; after signing in the owner lands on the Domain page', async () => {
    const anonymous = await new Browser().request(url('/console/orgs/x/domain'));
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toMatch(/\/auth\?.*client_id=gatehouse-console/);
    const anonymousForm = await new Browser().request(url(`${domainPath('acme')}/claim`), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'domain=anonymous.test&csrf=x',
    });
    expect(anonymousForm.status).toBe(401);

    const { browser, page } = await signInToConsole('owner@acme.test');
    expect(page.url).toBe(url(domainPath('acme')));
    expect(page.status).toBe(200);
    expect(text(page)).toContain('acme corp');
    // The browser holds only the session id: HttpOnly, SameSite=Lax, path /console; no token in any cookie.
    const cookies = await browser.jar.getCookies(url('/console'));
    const session = cookies.find((c) => c.key === 'gh_console')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/console' });
    const stored = (await h.app.services.oidcStore.find('ConsoleSession', session.value))!;
    expect(stored.accessToken).toEqual(expect.any(String));
    for (const c of cookies) expect(c.value).not.toContain(stored.accessToken as string);
  });

  it('a refused token (revoked by the provider) and a failed refresh send the administrator back to sign in', async () => {
    const { browser } = await signInToConsole('owner@acme.test');
    // Every console token of the owner is revoked: the access token and the refresh token stop working.
    await h.app.services.sessions.endAll(ids['owner@acme.test']!);
    const res = await browser.request(url(domainPath('acme')));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/\/auth\?/);
  });

  it('an expired access token is refreshed with the refresh token, without a new sign-in', async () => {
    const { browser } = await signInToConsole('owner@acme.test');
    const id = (await browser.jar.getCookies(url('/console'))).find((c) => c.key === 'gh_console')!.value;
    const record = (await h.app.services.oidcStore.find('ConsoleSession', id))!;
    await h.app.services.oidcStore.upsert('ConsoleSession', id, { ...record, expiresAt: 1 }, 3600);
    // Several requests at once share one refresh (a second use of the rotated refresh token would revoke the grant).
    const answers = await Promise.all([1, 2, 3].map(() => browser.request(url(domainPath('acme')))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await browser.request(url(domainPath('acme')))).status).toBe(200);
    const after = (await h.app.services.oidcStore.find('ConsoleSession', id))!;
    expect(after.accessToken).not.toBe(record.accessToken);
    expect(after.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it('a refresh another node claimed and gave back without renewing (its token request failed) is made by the request waiting for it', async () => {
    const { browser } = await signInToConsole('owner@acme.test');
    const id = (await browser.jar.getCookies(url('/console'))).find((c) => c.key === 'gh_console')!.value;
    const store = h.app.services.oidcStore;
    const record = (await store.find('ConsoleSession', id))!;
    await store.upsert('ConsoleSession', id, { ...record, expiresAt: 1 }, 3600);
    // Another node holds the claim, as it would while its token request is under way.
    expect(await store.consume('ConsoleSession', id, 'other-node')).toBe(true);
    const waiting = browser.request(url(domainPath('acme')));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await store.unconsume('ConsoleSession', id, 'other-node');
    expect((await waiting).status).toBe(200);
    const after = (await store.find('ConsoleSession', id))!;
    expect(after.accessToken).not.toBe(record.accessToken);
    expect(after.consumed).toBeUndefined();
  });

  it('sign-out ends the console session and offers Gatehouse sign-out', async () => {
    const { browser, page } = await signInToConsole('owner@acme.test');
    const res = await browser.submit(page, 'form[action="/console/signout"]', {});
    expect(res.status).toBe(302);
    const out = await browser.page(url(res.headers.get('location')!));
    expect(out.doc.querySelector('a[href*="/session/end"]')).not.toBeNull();
    const again = await browser.request(url(domainPath('acme')));
    expect(again.status).toBe(302);
  });

  it('a callback without the browser that started the sign-in is refused (no login CSRF)', async () => {
    const res = await new Browser().request(url('/console/callback?code=x&state=y'));
    expect(res.status).toBe(400);
  });
});

describe('who may use the console', () => {
  it('a member gets the plain "not an administrator" page', async () => {
    const { page } = await signInToConsole('member@acme.test');
    expect(page.status).toBe(403);
    expect(text(page)).toContain('You are not an administrator');
  });

  it('an admin of another organization is refused on every page and form, and nothing changes', async () => {
    const { browser, page } = await signInToConsole('owner@other.test');
    expect(page.url).toBe(url(domainPath('other')));
    const csrf = page.doc.querySelector('input[name="csrf"]')!.getAttribute('value')!;
    expect((await browser.request(url(domainPath('acme')))).status).toBe(403);
    expect((await browser.request(url(`${domainPath('acme')}/revoke?domain=acme.test`))).status).toBe(403);
    for (const action of ['claim', 'verify', 'revoke']) {
      const res = await browser.request(url(`${domainPath('acme')}/${action}`), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, domain: 'intruder.test' }).toString(),
      });
      expect([action, res.status]).toEqual([action, 403]);
    }
    expect((await h.api('GET', `/organizations/${orgs.acme}/domains`)).body.items.map((c: { domain: string }) => c.domain)).not.toContain('intruder.test');
  });

  it('a form without the session\'s CSRF token is refused and changes nothing', async () => {
    const { browser, page } = await signInToConsole('owner@other.test');
    const res = await browser.submit(page, `form[action$="/claim"]`, { domain: 'csrf.test', csrf: 'x'.repeat(43) });
    expect(res.status).toBe(403);
    expect((await h.api('GET', `/organizations/${orgs.other}/domains`)).body.items).toEqual([]);
  });
});

describe('the admin API\'s checks hold in the console', () => {
  it('the IP whitelist of the administrator\'s own policy: refused from outside it, the session kept', async () => {
    const fenced = await organizationWithDomain(h, 'Fenced', 'fenced.test');
    const ownerId = await createUser(h, 'owner@fenced.test', PASSWORD);
    expect((await h.api('POST', `/organizations/${fenced}/members`, { userId: ownerId, role: 'owner' })).status).toBe(200);
    const { browser } = await signInToConsole('owner@fenced.test');
    const path = `/console/orgs/${fenced}/domain`;
    expect((await browser.request(url(path))).status).toBe(200);
    await putPolicy(h, fenced, { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } });
    const refused = await browser.page(url(path));
    expect(refused.status).toBe(403);
    expect(text(refused)).toContain('network');
    await putPolicy(h, fenced, {});
    expect((await browser.request(url(path))).status).toBe(200);
  });

  it('a disabled administrator is signed out of the console at once', async () => {
    const adminId = await createUser(h, 'admin@other.test', PASSWORD);
    expect((await h.api('POST', `/organizations/${orgs.other}/members`, { userId: adminId, role: 'admin' })).status).toBe(200);
    const { browser, page } = await signInToConsole('admin@other.test');
    expect(page.status).toBe(200);
    expect((await h.api('POST', `/users/${adminId}/disable`)).status).toBe(200);
    const res = await browser.request(url(domainPath('other')));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/\/auth\?/);
  });
});

describe('the Domain page', () => {
  it('claim → TXT record shown → verify (not found, another value, found) → revoke stating how many users', async () => {
    const { browser, page } = await signInToConsole('owner@acme.test');
    let p = await submitAndRead(browser, page, 'form[action$="/claim"]', { domain: 'ACME.test' });
    expect(p.status).toBe(201);
    const name = p.doc.querySelector('code[id="name-acme.test"]')!.text;
    const value = p.doc.querySelector('code[id="value-acme.test"]')!.text;
    expect(name).toBe('_gatehouse-challenge.acme.test');
    expect(value).toMatch(/^[\w-]{32}$/);
    expect(p.doc.querySelectorAll('button.copy[data-copy]').length).toBe(2);

    p = await submitAndRead(browser, p, 'form[action$="/verify"]');
    expect(p.status).toBe(422);
    expect(text(p)).toContain('No TXT record was found at that name yet');

    h.dns.txt.set(name, [['some-other-value']]);
    p = await submitAndRead(browser, p, 'form[action$="/verify"]');
    expect(p.status).toBe(422);
    expect(text(p)).toContain('found at that name, but with another value');

    h.dns.silent.add(name);
    p = await submitAndRead(browser, p, 'form[action$="/verify"]');
    expect(text(p)).toContain('did not answer in time');
    h.dns.silent.delete(name);

    h.dns.txt.set(name, [[value]]);
    p = await submitAndRead(browser, p, 'form[action$="/verify"]');
    expect(p.status).toBe(200);
    expect(text(p)).toContain('acme.test is verified');
    expect(text(p)).toMatch(/Status: Verified/);
    expect(p.doc.querySelectorAll('.history li').length).toBeGreaterThanOrEqual(5);

    const events = await h.app.services.audit.list({ organizationId: orgs.acme, types: ['domain.verified'], limit: 5 });
    const owner = await h.api('GET', `/organizations/${orgs.acme}/members`);
    const ownerId = owner.body.items.find((m: { email: string }) => m.email === 'owner@acme.test').userId;
    expect(events[0]).toMatchObject({ actorType: 'user', actorId: ownerId, targetId: 'acme.test' });

    // Four accounts on acme.test: the owner, the member, ann and bob.
    const confirm = await browser.page(url(`${domainPath('acme')}/revoke?domain=acme.test`));
    expect(text(confirm)).toContain('Your security policies will stop applying to 4 users');
    p = await submitAndRead(browser, confirm, 'form[action$="/revoke"]');
    expect(p.status).toBe(200);
    expect(text(p)).toContain('The claim on acme.test is revoked');
    const claims = (await h.api('GET', `/organizations/${orgs.acme}/domains`)).body.items;
    expect(claims).toEqual([expect.objectContaining({ domain: 'acme.test', status: 'revoked' })]);
    const revoked = await h.app.services.audit.list({ organizationId: orgs.acme, types: ['domain.revoked'], limit: 5 });
    expect(revoked[0]).toMatchObject({ actorType: 'user', actorId: ownerId, data: expect.objectContaining({ reason: 'revoked-by-organization' }) });
  });

  it('an invalid domain is answered next to the form, in the page\'s language', async () => {
    const { browser, page } = await signInToConsole('owner@other.test');
    const p = await submitAndRead(browser, page, 'form[action$="/claim"]', { domain: 'not a domain' });
    expect(p.status).toBe(400);
    expect(text(p)).toContain('Enter a domain name such as example.com.');
    const vi = await browser.page(url(`${domainPath('other')}?lang=vi`));
    expect(text(vi)).toContain('Đăng ký tên miền');
  });

  it('a platform administrator may verify without DNS once they confirm they checked; an owner may not', async () => {
    ids['root@platform.test'] = await createUser(h, 'root@platform.test', PASSWORD);
    await h.app.services.accounts.setPlatformAdmin('root@platform.test', true);
    expect((await h.api('POST', `/organizations/${orgs.other}/domains`, { domain: 'manual.test' })).status).toBe(201);
    const pending = async () => (await h.api('GET', `/organizations/${orgs.other}/domains`)).body.items.find((c: { domain: string }) => c.domain === 'manual.test').status;

    // The owner sees no such form, and posting one by hand is refused by the API's platform check.
    const owner = await signInToConsole('owner@other.test');
    expect(owner.page.doc.querySelector('form.force-verify')).toBeNull();
    const refused = await postForm(owner.browser, url(`${domainPath('other')}/verify`), { csrf: csrfOf(owner.page), domain: 'manual.test', force: 'true', checked: 'true' });
    expect(refused.status).toBe(403);
    expect(await pending()).toBe('pending');

    const root = await signInToConsole('root@platform.test');
    const page = await root.browser.page(url(domainPath('other')));
    const form = 'form.force-verify:has(input[value="manual.test"])';
    const unchecked = await submitAndRead(root.browser, page, form, {});
    expect(unchecked.status).toBe(400);
    expect(text(unchecked)).toContain('Confirm that you checked that the organization owns manual.test.');
    expect(await pending()).toBe('pending');
    const done = await submitAndRead(root.browser, page, form, { checked: 'true' });
    expect(done.status).toBe(200);
    expect(text(done)).toContain('manual.test is verified without a DNS check.');
    expect(await pending()).toBe('verified');
    const events = (await h.api('GET', `/organizations/${orgs.other}/events?type=domain.verified`)).body.items;
    expect(events[0]).toMatchObject({ actorType: 'user', actorId: ids['root@platform.test'], data: expect.objectContaining({ method: 'manual' }) });
  });
});
