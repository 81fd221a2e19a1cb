import { startAdminHarness, BOOTSTRAP_ID, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { createUser } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, postForm, submitAndRead } from '../helpers/console.js';

/**
 * The console's Platform pages through the real forms: a person with the platform-admin flag lands on
 * the organizations, creates one with an owner, opens it; registers a client (secret shown once, working
 * at the token endpoint), gives it a new secret (the old one refused), deletes it; rotates the signing
 * keys (the JWKS follows). Everyone else is refused, and nothing changes.
 */
let h: AdminHarness;
const PASSWORD = 'Platform-pass-1';
const ROOT = 'root@platform.test';
let acme: string;
let victimClient: string;

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  acme = (await h.api('POST', '/organizations', { name: 'Acme corp' })).body.id;
  for (const [email, role] of [['owner@acme.test', 'owner'], ['member@acme.test', 'member']] as const) {
    const id = await createUser(h, email, PASSWORD);
    expect((await h.api('POST', `/organizations/${acme}/members`, { userId: id, role })).status).toBe(200);
  }
  await createUser(h, ROOT, PASSWORD);
  await createUser(h, 'future-owner@free.test', PASSWORD);
  // The service `gatehouse user grant-platform-admin` uses.
  expect((await h.app.services.accounts.setPlatformAdmin(ROOT, true)).changed).toBe(true);
  victimClient = (await h.api('POST', '/clients', { client_name: 'Victim app', session_type: 'web', redirect_uris: ['https://victim.example/cb'] })).body.client_id;
});
afterAll(() => h?.stop());

const url = (path: string) => `${h.running.issuer}${path}`;
const signIn = (email: string) => consoleSignIn(h.running.issuer, email, PASSWORD);

/** A client_credentials request at the token endpoint with HTTP Basic: the status and the OAuth error, if any. */
async function clientCredentials(clientId: string, secret: string): Promise<{ status: number; error?: string }> {
  const res = await fetch(url('/token'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, error: body.error };
}

const kids = async () => ((await (await fetch(url('/jwks'))).json()) as { keys: Array<{ kid: string; d?: string }> }).keys;

/** Everything a platform action could change. */
async function snapshot() {
  const db = h.app.services.db;
  return {
    organizations: await db('organizations').select('*').orderBy('id'),
    clients: await db('clients').select('*').orderBy('client_id'),
    keys: await db('signing_keys').select('kid', 'state').orderBy('kid'),
    members: await db('accounts').select('id', 'organization_id', 'org_role').orderBy('id'),
  };
}

describe('a platform admin (a person) in the console', () => {
  let browser: Browser;
  let home: Page;
  beforeAll(async () => {
    ({ browser, page: home } = await signIn(ROOT));
  });

  it('lands on the organizations, with the Platform navigation', () => {
    expect(home.url).toBe(url('/console/platform/organizations'));
    expect(home.status).toBe(200);
    expect(mainText(home)).toContain('Acme corp');
    const platformNav = home.doc.querySelector('nav.console-nav-platform')!;
    expect(platformNav.querySelectorAll('a').map((a) => a.getAttribute('href'))).toEqual(
      expect.arrayContaining(['/console/platform/organizations', '/console/platform/clients', '/console/platform/keys']),
    );
    expect(platformNav.querySelector('[aria-current="page"]')!.text).toBe('Organizations');
  });

  it('searches organizations by name', async () => {
    const found = await browser.page(url('/console/platform/organizations?q=ACME'));
    expect(mainText(found)).toContain('Acme corp');
    const none = await browser.page(url('/console/platform/organizations?q=zzz'));
    expect(mainText(none)).toContain('No organization matches “zzz”');
  });

  it('pages through the organizations', async () => {
    for (let i = 0; i < 51; i++) expect((await h.api('POST', '/organizations', { name: `Paged ${String(i).padStart(2, '0')}` })).status).toBe(201);
    const first = await browser.page(url('/console/platform/organizations?q=paged'));
    expect(first.doc.querySelectorAll('tbody tr')).toHaveLength(50);
    const next = first.doc.querySelector('a[href*="cursor="]')!.getAttribute('href')!;
    const second = await browser.page(url(next.replace(/&amp;/g, '&')));
    expect(second.doc.querySelectorAll('tbody tr').map((r) => r.text.trim().split(/\s+/).slice(0, 2).join(' '))).toEqual(['Paged 50']);
  });

  it('creates an organization owned by an existing user, and opens it', async () => {
    const page = await browser.page(url('/console/platform/organizations'));
    const created = await submitAndRead(browser, page, 'form[method="post"][action="/console/platform/organizations"]', { name: 'Globex', owner: 'Future-Owner@free.test' });
    expect(created.status).toBe(201);
    expect(mainText(created)).toContain('Globex is created, owned by future-owner@free.test.');
    const orgId = (await h.api('GET', '/organizations?q=globex')).body.items[0].id as string;
    const owner = (await h.api('GET', '/users?email=future-owner@free.test')).body.items[0];
    expect(owner).toMatchObject({ organizationId: orgId, role: 'owner' });

    const open = created.doc.querySelector('.notice a')!.getAttribute('href')!;
    expect(open).toBe(`/console/orgs/${orgId}/domain`);
    const domainPage = await browser.page(url(open));
    expect(domainPage.status).toBe(200);
    expect(mainText(domainPage)).toContain('Globex');
    // The way back to every organization, on an organization's page.
    expect(domainPage.doc.querySelector('a.console-switch')!.getAttribute('href')).toBe('/console/platform/organizations');
  });

  it('creates nothing when the owner or the name is wrong', async () => {
    const page = await browser.page(url('/console/platform/organizations'));
    const before = await snapshot();
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ name: 'Initech', owner: 'nobody@free.test' }, 'owner', 'No user has the address nobody@free.test'],
      [{ name: 'Initech', owner: 'owner@acme.test' }, 'owner', 'owner@acme.test already belongs to an organization'],
      [{ name: 'Initech', owner: `${'x'.repeat(330)}@free.test` }, 'owner', 'Enter the email address of an existing user'],
      [{ name: '   ', owner: '' }, 'name', 'Enter a name for the organization'],
      [{ name: 'x'.repeat(201), owner: '' }, 'name', 'Enter a name of at most 200 characters'],
    ];
    for (const [fields, field, message] of cases) {
      const res = await submitAndRead(browser, page, 'form[method="post"][action="/console/platform/organizations"]', fields);
      expect([res.status, res.doc.querySelector(`#${field}-error`)?.text]).toEqual([400, expect.stringContaining(message)]);
      expect(res.doc.querySelector(`#${field}`)!.getAttribute('aria-invalid')).toBe('true');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('registers a web client: the secret is shown once and works; a new secret replaces it; delete removes the client', async () => {
    const page = await browser.page(url('/console/platform/clients'));
    expect(page.status).toBe(200);
    // The console's own client and the bootstrap client are listed as built in, with no actions.
    for (const id of ['gatehouse-console', BOOTSTRAP_ID]) {
      const row = page.doc.querySelectorAll('tbody tr').find((r) => r.text.includes(id))!;
      expect(row.text).toContain('Built in');
      expect(row.querySelectorAll('a')).toHaveLength(0);
    }
    const created = await submitAndRead(browser, page, 'form[method="post"][action="/console/platform/clients"]', {
      client_name: 'Reports',
      session_type: 'web',
      redirect_uris: 'https://reports.example/cb\r\n\r\nhttp://localhost:8080/cb\r\n',
    });
    expect([created.status, created.doc.querySelector('.field-error')?.text]).toEqual([201, undefined]);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const clientId = created.doc.querySelector('#client-id')!.text;
    const secret = created.doc.querySelector('#client-secret')!.text;
    expect(mainText(created)).toContain('it is shown only this once');
    expect((await h.api('GET', `/clients/${clientId}`)).body).toMatchObject({ client_name: 'Reports', redirect_uris: ['https://reports.example/cb', 'http://localhost:8080/cb'] });
    expect(await clientCredentials(clientId, secret)).toEqual({ status: 200, error: undefined });
    // Never again: neither the list nor the stored client holds it.
    const list = await browser.page(url('/console/platform/clients'));
    expect(list.html).toContain(clientId);
    expect(list.html).not.toContain(secret);
    expect(JSON.stringify(await h.app.services.db('clients').where({ client_id: clientId }).first())).not.toContain(secret);

    const confirm = await browser.page(url(`/console/platform/clients/${clientId}/rotate`));
    expect(confirm.status).toBe(200);
    expect(mainText(confirm)).toContain('The current secret stops working at once.');
    const rotated = await submitAndRead(browser, confirm, 'form.confirm');
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    const newSecret = rotated.doc.querySelector('#client-secret')!.text;
    expect(newSecret).not.toBe(secret);
    expect(await clientCredentials(clientId, secret)).toEqual({ status: 401, error: 'invalid_client' });
    expect(await clientCredentials(clientId, newSecret)).toEqual({ status: 200, error: undefined });
    const events = (await h.api('GET', '/events?type=client.secret_rotated')).body.items;
    expect(events[0]).toMatchObject({ targetId: clientId, actorType: 'user' });

    // Its registration changed in place: same client id and secret, the new redirect URI honoured at once.
    const edit = await browser.page(url(`/console/platform/clients/${clientId}/edit`));
    expect(edit.status).toBe(200);
    expect((edit.doc.querySelector('#redirect_uris')!.text)).toBe('https://reports.example/cb\nhttp://localhost:8080/cb');
    const refusedEdit = await submitAndRead(browser, edit, 'form[action$="/edit"]', { client_name: 'Reports', redirect_uris: 'http://reports.example/cb' });
    expect(refusedEdit.status).toBe(400);
    expect(refusedEdit.doc.querySelector('#uris-error')!.text).toContain('A URI is not acceptable');
    expect((await h.api('GET', `/clients/${clientId}`)).body.redirect_uris).toEqual(['https://reports.example/cb', 'http://localhost:8080/cb']);
    const saved = await submitAndRead(browser, refusedEdit, 'form[action$="/edit"]', {
      client_name: 'Reports 2',
      redirect_uris: 'https://reports2.example/cb',
      post_logout_redirect_uris: 'https://reports2.example/bye',
      backchannel_logout_uri: 'https://reports2.example/logout',
      third_party: 'yes',
    });
    expect([saved.status, mainText(saved)]).toEqual([200, expect.stringContaining('The registration of Reports 2 is saved.')]);
    expect((await h.api('GET', `/clients/${clientId}`)).body).toMatchObject({
      client_name: 'Reports 2',
      first_party: false,
      redirect_uris: ['https://reports2.example/cb'],
      post_logout_redirect_uris: ['https://reports2.example/bye'],
      backchannel_logout_uri: 'https://reports2.example/logout',
    });
    expect(await clientCredentials(clientId, newSecret)).toEqual({ status: 200, error: undefined });
    expect((await h.api('GET', '/events?type=client.updated')).body.items[0]).toMatchObject({ targetId: clientId, actorType: 'user' });
    // A built-in client is not offered, and asking by hand is refused.
    expect((await browser.request(url('/console/platform/clients/gatehouse-console/edit'))).status).toBe(409);

    const deleteConfirm = await browser.page(url(`/console/platform/clients/${clientId}/delete`));
    expect(mainText(deleteConfirm)).toContain('This cannot be undone');
    const deleted = await submitAndRead(browser, deleteConfirm, 'form.confirm');
    expect(deleted.status).toBe(200);
    expect(mainText(deleted)).toContain('Reports 2 is deleted');
    expect((await h.api('GET', `/clients/${clientId}`)).status).toBe(404);
    expect(await clientCredentials(clientId, newSecret)).toEqual({ status: 401, error: 'invalid_client' });
  });

  it('registers a mobile client without a secret, and says why a form is refused', async () => {
    const page = await browser.page(url('/console/platform/clients'));
    const mobile = await submitAndRead(browser, page, 'form[method="post"][action="/console/platform/clients"]', {
      client_name: 'Field app',
      session_type: 'mobile',
      redirect_uris: 'com.example.field:/cb',
    });
    expect(mobile.status).toBe(201);
    expect(mobile.doc.querySelector('#client-secret')).toBeNull();
    expect(mainText(mobile)).toContain('it has no secret');
    // A public client has no secret to rotate.
    const mobileId = mobile.doc.querySelector('#client-id')!.text;
    expect((await browser.request(url(`/console/platform/clients/${mobileId}/rotate`))).status).toBe(409);

    const before = await snapshot();
    const bad: Array<[Record<string, string>, string]> = [
      [{ client_name: '', session_type: 'web', redirect_uris: 'https://a.example/cb' }, 'name'],
      [{ client_name: 'X', session_type: 'web', redirect_uris: '' }, 'uris'],
      [{ client_name: 'X', session_type: 'web', redirect_uris: 'http://a.example/cb' }, 'uris'],
      [{ client_name: 'X', session_type: 'tv', redirect_uris: 'https://a.example/cb' }, 'type'],
    ];
    for (const [fields, field] of bad) {
      const res = await submitAndRead(browser, page, 'form[method="post"][action="/console/platform/clients"]', fields);
      expect([fields, res.status, res.doc.querySelector(`#${field}-error`) !== null]).toEqual([fields, 400, true]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses to change the built-in clients, in the console and in the API (409)', async () => {
    const before = await snapshot();
    for (const id of ['gatehouse-console', BOOTSTRAP_ID]) {
      for (const action of ['rotate', 'delete']) {
        const confirm = await browser.request(url(`/console/platform/clients/${id}/${action}`));
        expect([id, action, confirm.status]).toEqual([id, action, 409]);
        const csrf = csrfOf(await browser.page(url('/console/platform/clients')));
        const post = await postForm(browser, url(`/console/platform/clients/${id}/${action}`), { csrf });
        expect([id, action, post.status]).toEqual([id, action, 409]);
      }
      const del = await h.api('DELETE', `/clients/${id}`);
      expect([del.status, del.headers.get('content-type')]).toEqual([409, expect.stringContaining('application/problem+json')]);
      expect((await h.api('POST', `/clients/${id}/secret`)).status).toBe(409);
    }
    expect(await snapshot()).toEqual(before);
    // The platform token still works: the bootstrap client was not touched.
    expect((await h.api('GET', '/keys')).status).toBe(200);
  });

  it('lists the signing keys (public facts only) and rotates them after a confirmation; the JWKS follows', async () => {
    const page = await browser.page(url('/console/platform/keys'));
    expect(page.status).toBe(200);
    const api = (await h.api('GET', '/keys')).body.items as Array<{ kid: string; state: string }>;
    const current = api.find((k) => k.state === 'current')!.kid;
    const next = api.find((k) => k.state === 'next')!.kid;
    expect(mainText(page)).toContain(current);
    expect(JSON.stringify(api)).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
    const published = (await kids()).map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([current, next]));

    const confirm = await browser.page(url('/console/platform/keys/rotate'));
    expect(mainText(confirm)).toContain('The next key starts signing');
    const rotated = await submitAndRead(browser, confirm, 'form.confirm');
    expect(rotated.status).toBe(200);
    expect(mainText(rotated)).toContain(`The keys are rotated: ${next} signs now.`);
    const after = (await h.api('GET', '/keys')).body.items as Array<{ kid: string; state: string }>;
    expect(after.find((k) => k.kid === next)!.state).toBe('current');
    expect(after.find((k) => k.kid === current)!.state).toBe('retired');
    const fresh = after.find((k) => k.state === 'next')!.kid;
    const jwks = await kids();
    expect(jwks.map((k) => k.kid)).toEqual(expect.arrayContaining([current, next, fresh]));
    expect(jwks.every((k) => k.d === undefined)).toBe(true);
  });
});

describe('everyone else is refused, and nothing changes', () => {
  const PAGES = ['/console/platform/organizations', '/console/platform/clients', '/console/platform/keys', '/console/platform/keys/rotate'];
  const actions = (): Array<[string, Record<string, string>]> => [
    ['/console/platform/organizations', { name: 'Hijack', owner: '' }],
    ['/console/platform/clients', { client_name: 'Hijack', session_type: 'web', redirect_uris: 'https://evil.example/cb' }],
    [`/console/platform/clients/${victimClient}/rotate`, {}],
    [`/console/platform/clients/${victimClient}/delete`, {}],
    ['/console/platform/keys/rotate', {}],
  ];

  it('an organization owner: every page and action answers 403; the Platform navigation is not shown', async () => {
    const { browser, page } = await signIn('owner@acme.test');
    expect(page.url).toBe(url(`/console/orgs/${acme}/domain`));
    expect(page.doc.querySelector('nav.console-nav-platform')).toBeNull();
    expect(page.doc.querySelector('.console-switch')).toBeNull();
    expect(page.html).not.toContain('/console/platform/');
    const csrf = csrfOf(page);
    const before = await snapshot();
    for (const path of [...PAGES, `/console/platform/clients/${victimClient}/rotate`, `/console/platform/clients/${victimClient}/delete`]) {
      expect([path, (await browser.request(url(path))).status]).toEqual([path, 403]);
    }
    for (const [path, fields] of actions()) {
      expect([path, (await postForm(browser, url(path), { ...fields, csrf })).status]).toEqual([path, 403]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a plain member and an anonymous visitor are refused', async () => {
    const { browser } = await signIn('member@acme.test');
    const anonymous = new Browser();
    const before = await snapshot();
    for (const path of PAGES) {
      expect([path, (await browser.request(url(path))).status]).toEqual([path, 403]);
      const res = await anonymous.request(url(path));
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 302, expect.stringMatching(/\/auth\?/)]);
    }
    for (const [path, fields] of actions()) {
      expect([path, (await postForm(browser, url(path), { ...fields, csrf: 'x' })).status]).toEqual([path, 403]);
      expect([path, (await postForm(anonymous, url(path), { ...fields, csrf: 'x' })).status]).toEqual([path, 401]);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a platform admin\'s form without the CSRF token, or with a wrong one, answers 403', async () => {
    const { browser } = await signIn(ROOT);
    const before = await snapshot();
    for (const [path, fields] of actions()) {
      expect([path, (await postForm(browser, url(path), fields)).status]).toEqual([path, 403]);
      expect([path, (await postForm(browser, url(path), { ...fields, csrf: 'wrong' })).status]).toEqual([path, 403]);
    }
    expect(await snapshot()).toEqual(before);
  });
});
