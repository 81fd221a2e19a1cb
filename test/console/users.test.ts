import { randomUUID } from 'node:crypto';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { createUser, organizationWithDomain } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, postForm, submitAndRead } from '../helpers/console.js';

/**
 * The console's Users pages through the real forms: the GET search form and its filters and pages, a
 * user's facts (a lock from real failed sign-ins, a real browser session), every action confirmed and
 * audited with the administrator as actor, the invite form, and the refusals.
 */
let h: AdminHarness;
const PASSWORD = 'Console-pass-1';
const WRONG = 'Wrong-pass-1';
const orgs: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  orgs.acme = await organizationWithDomain(h, 'Acme corp', 'acme.test');
  orgs.other = await organizationWithDomain(h, 'Other corp', 'other.test');
  const people: Array<[string, string | null, string | null, string?]> = [
    ['owner@acme.test', 'acme', 'owner', 'Olive Owner'],
    ['admin@acme.test', 'acme', 'admin', 'Adam Admin'],
    ['member@acme.test', 'acme', 'member'],
    ['owner@other.test', 'other', 'owner'],
    ['ann@acme.test', null, null, 'Ann Archer'],
    ['bob@acme.test', null, null, 'Bob Baker'],
    ['cara@acme.test', null, null, 'Cara Cole'],
    ['zed@other.test', null, null, 'Zed Zimmer'],
    ['root@free.test', null, null],
  ];
  for (const [email, org, role, name] of people) {
    ids[email] = await createUser(h, email, PASSWORD, name ? { name } : {});
    if (org) expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: ids[email], role })).status).toBe(200);
  }
  expect((await h.app.services.accounts.setPlatformAdmin('root@free.test', true)).changed).toBe(true);
}, 60_000);
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;
const usersPath = (org = 'acme') => `/console/orgs/${orgs[org]}/users`;
const userPath = (email: string, org = 'acme') => `${usersPath(org)}/${ids[email]}`;
const signIn = (email: string) => consoleSignIn(h.running.issuer, email, PASSWORD, new Browser(), usersPath());

/** Submits the page's GET search form as a browser would: the text field, the ticked boxes, the hidden fields. */
async function search(browser: Browser, page: Page, fields: { q?: string; filters?: string[] }): Promise<Page> {
  const form = page.doc.querySelector('form[role="search"]')!;
  expect(form.getAttribute('method')).toBe('get');
  const params = new URLSearchParams();
  for (const input of form.querySelectorAll('input')) {
    const name = input.getAttribute('name')!;
    const type = input.getAttribute('type');
    if (type === 'hidden') params.set(name, input.getAttribute('value')!);
    if (type === 'text') params.set(name, fields.q ?? '');
    if (type === 'checkbox' && fields.filters?.includes(name)) params.append(name, input.getAttribute('value')!);
  }
  for (const f of fields.filters ?? []) expect(form.querySelector(`input[type=checkbox][name="${f}"]`)).not.toBeNull();
  return browser.page(`${new URL(form.getAttribute('action')!, page.url).href}?${params}`);
}
const emails = (p: Page) => p.doc.querySelectorAll('table.users tbody tr td:first-child').map((td) => td.text.trim());
const events = async (type: string, org = 'acme') => (await h.api('GET', `/organizations/${orgs[org]}/events?type=${type}&limit=50`)).body.items as Array<Record<string, unknown>>;

/** An authenticator app, arranged in the database (enrolling through the pages is not what is under test). */
const addTotp = (accountId: string) =>
  h.app.services.db('factors').insert({ id: randomUUID(), account_id: accountId, kind: 'totp', label: 'Authenticator app', created_at: Math.floor(Date.now() / 1000), secret: 'sealed' });

/** Five failed sign-ins through Gatehouse's real sign-in form lock the account. */
async function lockBySigningIn(email: string) {
  for (let i = 0; i < 5; i++) {
    const browser = new Browser();
    const login = await browser.page(url('/console'));
    const res = await browser.submit(login, 'form[action$="/password"]', { email, password: WRONG });
    expect(res.status).not.toBe(303);
  }
}

describe('the list', () => {
  it('shows the accounts the organization reaches, searches by email or name, and keeps the query in the URL', async () => {
    const { browser, page } = await signIn('admin@acme.test');
    expect(page.url).toBe(url(usersPath()));
    expect(page.status).toBe(200);
    const all = emails(page);
    expect(all).toEqual(expect.arrayContaining(['ann@acme.test', 'bob@acme.test', 'cara@acme.test', 'owner@acme.test', 'member@acme.test']));
    expect(all).not.toContain('zed@other.test');
    expect(all).not.toContain('root@free.test');

    let p = await search(browser, page, { q: 'BOB' });
    expect(p.url).toContain('q=BOB');
    expect(emails(p)).toEqual(['bob@acme.test']);
    expect(p.doc.querySelector('input[name="q"]')!.getAttribute('value')).toBe('BOB');
    p = await search(browser, p, { q: 'archer' });
    expect(emails(p)).toEqual(['ann@acme.test']);
    p = await search(browser, p, { q: 'zed' });
    expect(emails(p)).toEqual([]);
    expect(mainText(p)).toContain('No account matches this search.');
  });

  it('a platform admin on the organization\'s page sees exactly what its admins see', async () => {
    const admin = await signIn('admin@acme.test');
    const root = await signIn('root@free.test');
    expect(root.page.url).toBe(url(usersPath()));
    expect(emails(root.page).sort()).toEqual(emails(admin.page).sort());
    expect(emails(root.page)).not.toContain('root@free.test');
  });

  it('each filter: locked, no second factor, password expiring, disabled — alone and together', async () => {
    const locked = await createUser(h, 'locked@acme.test', PASSWORD);
    await lockBySigningIn('locked@acme.test');
    const disabled = await createUser(h, 'off@acme.test', PASSWORD);
    expect((await h.api('POST', `/users/${disabled}/disable`)).status).toBe(200);
    const withFactor = await createUser(h, 'totp@acme.test', PASSWORD);
    const now = Math.floor(Date.now() / 1000);
    await addTotp(withFactor);
    const old = await createUser(h, 'old@acme.test', PASSWORD);
    expect((await h.api('PUT', `/organizations/${orgs.acme}/security-policy`, { policy: { password: { expirationDays: 90 } } })).status).toBe(200);
    await h.app.services.db('accounts').where({ id: old }).update({ password_changed_at: now - 85 * 86_400 });

    const { browser, page } = await signIn('owner@acme.test');
    expect(emails(await search(browser, page, { filters: ['locked'] }))).toEqual(['locked@acme.test']);
    expect(emails(await search(browser, page, { filters: ['disabled'] }))).toEqual(['off@acme.test']);
    expect(emails(await search(browser, page, { filters: ['passwordExpiring'] }))).toEqual(['old@acme.test']);
    const noFactor = emails(await search(browser, page, { filters: ['noSecondFactor'] }));
    expect(noFactor).toEqual(expect.arrayContaining(['ann@acme.test', 'locked@acme.test']));
    expect(noFactor).not.toContain('totp@acme.test');
    const both = await search(browser, page, { filters: ['locked', 'noSecondFactor'] });
    expect(emails(both)).toEqual(['locked@acme.test']);
    expect(both.url).toMatch(/locked=true&noSecondFactor=true/);
    expect(both.doc.querySelectorAll('input[type=checkbox][checked]').map((i) => i.getAttribute('name'))).toEqual(['locked', 'noSecondFactor']);
    expect(emails(await search(browser, page, { q: 'ann', filters: ['locked'] }))).toEqual([]);

    await h.api('PUT', `/organizations/${orgs.acme}/security-policy`, { policy: {} });
    for (const id of [locked, disabled, withFactor, old]) await h.app.services.db('factors').where({ account_id: id }).delete();
    expect((await h.api('POST', `/users/${locked}/unlock`)).status).toBe(200);
  });

  it('pages: next and previous links keep the search and filters', async () => {
    const { browser } = await signIn('owner@acme.test');
    let p = await browser.page(url(`${usersPath()}?noSecondFactor=true&limit=2`));
    const seen: string[] = [...emails(p)];
    expect(seen).toHaveLength(2);
    expect(p.doc.querySelector('a[rel="prev"]')).toBeNull();
    const pages: string[][] = [emails(p)];
    while (p.doc.querySelector('a[rel="next"]')) {
      const next = p.doc.querySelector('a[rel="next"]')!.getAttribute('href')!;
      expect(next).toContain('noSecondFactor=true');
      expect(next).toContain('limit=2');
      p = await browser.page(url(next));
      pages.push(emails(p));
      seen.push(...emails(p));
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(['ann@acme.test', 'bob@acme.test', 'cara@acme.test']));
    // Back, page by page, to the first.
    for (let i = pages.length - 2; i >= 0; i--) {
      const prev = p.doc.querySelector('a[rel="prev"]')!.getAttribute('href')!;
      expect(prev).toContain('noSecondFactor=true');
      p = await browser.page(url(prev));
      expect(emails(p)).toEqual(pages[i]);
    }
    expect(p.doc.querySelector('a[rel="prev"]')).toBeNull();
  });
});

describe('a user\'s page', () => {
  it('shows status, the policy in force, factors, the lock, the password\'s age and expiry, and sessions', async () => {
    // A real browser session of Ann's (a member: the console refuses her, but she is signed in to Gatehouse).
    expect((await consoleSignIn(h.running.issuer, 'ann@acme.test', PASSWORD)).page.status).toBe(403);
    await lockBySigningIn('ann@acme.test');
    await h.app.services.twoFactor.issueRecoveryCodes(ids['ann@acme.test']!);
    const { browser } = await signIn('admin@acme.test');
    expect((await h.api('PUT', `/organizations/${orgs.acme}/security-policy`, { policy: { password: { expirationDays: 180 }, authentication: { enforce2fa: true } } })).status).toBe(200);
    try {
      await factsOfAnn(browser);
    } finally {
      await h.api('PUT', `/organizations/${orgs.acme}/security-policy`, { policy: {} });
      expect((await h.api('POST', `/users/${ids['ann@acme.test']}/unlock`)).status).toBe(200);
    }
  });

  async function factsOfAnn(browser: Browser) {
    const p = await browser.page(url(userPath('ann@acme.test')));
    expect(p.status).toBe(200);
    const text = mainText(p);
    expect(text).toContain('ann@acme.test');
    expect(text).toContain('Ann Archer');
    expect(p.doc.querySelector('[data-fact="status"]')!.text.trim()).toBe('Active');
    expect(p.doc.querySelector('[data-fact="policy"]')!.text).toContain('The security policy of Acme corp, which verified the domain acme.test.');
    expect(text).toContain('Two-step verification is required.');
    expect(text).toContain('Passwords expire after 180 days.');
    expect(p.doc.querySelectorAll('[data-fact="factors"] dd').map((dd) => dd.text.trim())).toEqual(['Not set up', '0', '10']);
    const lock = p.doc.querySelector('[data-fact="lock"] time[data-local]')!;
    expect(lock.text).toContain('UTC');
    expect(new Date(lock.getAttribute('datetime')!).getTime()).toBeGreaterThan(Date.now());
    const expiry = p.doc.querySelector('[data-fact="expiry"] time')!.getAttribute('datetime')!;
    const view = (await h.api('GET', `/users/${ids['ann@acme.test']}`)).body;
    expect(expiry).toBe(view.passwordExpiresAt);
    expect(p.doc.querySelector('[data-fact="sessions"]')!.text).toContain('Browsers signed in: 1.');
    // Apps by their registered names (Ann signed in through the console's client), not their client ids.
    const sessions = (await h.api('GET', `/users/${ids['ann@acme.test']}/sessions`)).body.sessions;
    expect(sessions.map((x: { apps: unknown }) => x.apps)).toEqual([[{ clientId: 'gatehouse-console', name: 'Gatehouse console' }]]);
    expect(text).toContain('Apps: Gatehouse console');
    expect(text).not.toContain('gatehouse-console');
    expect(p.doc.querySelector(`a[href="${userPath('ann@acme.test')}/unlock"]`)).not.toBeNull();
  }

  it('a baseline account or another organization\'s is not found on this organization\'s page, even for a platform admin', async () => {
    const { browser } = await signIn('root@free.test');
    expect((await browser.request(url(userPath('zed@other.test')))).status).toBe(404);
    expect((await browser.request(url(userPath('root@free.test')))).status).toBe(404);
    expect((await browser.request(url(userPath('zed@other.test', 'other')))).status).toBe(200);
  });
});

describe('actions: confirmation page, then the change, audited with the administrator as actor', () => {
  const cases: Array<{ action: string; arrange?: (id: string) => Promise<void>; fields?: Record<string, string>; event: string; notice: RegExp; check: (id: string) => Promise<void> }> = [
    {
      action: 'unlock',
      arrange: async () => lockBySigningIn('cara@acme.test'),
      event: 'user.unlocked',
      notice: /The account is unlocked/,
      check: async (id) => expect((await h.api('GET', `/users/${id}`)).body.lockedUntil).toBeNull(),
    },
    {
      action: 'password-reset',
      fields: { requireChange: 'true' },
      event: 'password.reset_requested',
      notice: /A password reset link was emailed to cara@acme.test/,
      check: async (id) => {
        expect((await h.api('GET', `/users/${id}`)).body.mustChangePassword).toBe(true);
        await h.smtp.waitFor((m) => m.to === 'cara@acme.test' && /password\/reset\?token=/.test(m.text));
      },
    },
    {
      action: 'reset-2fa',
      arrange: async (id) => {
        await h.app.services.db('factors').where({ account_id: id }).delete();
        await addTotp(id);
      },
      event: 'two_factor.reset',
      notice: /Every second factor and recovery code of cara@acme.test was removed/,
      check: async (id) => expect((await h.api('GET', `/users/${id}`)).body.factors).toEqual([]),
    },
    {
      action: 'end-sessions',
      arrange: async (id) => {
        await h.app.services.db('accounts').where({ id }).update({ must_change_password: false });
        expect((await consoleSignIn(h.running.issuer, 'cara@acme.test', PASSWORD)).page.status).toBe(403);
      },
      event: 'user.sessions_ended',
      notice: /cara@acme.test was signed out everywhere/,
      check: async (id) => expect((await h.api('GET', `/users/${id}/sessions`)).body.sessions).toEqual([]),
    },
    {
      action: 'disable',
      arrange: async (id) => {
        await h.app.services.db('accounts').where({ id }).update({ status: 'active' });
      },
      event: 'user.disabled',
      notice: /The account of cara@acme.test is disabled/,
      check: async (id) => expect((await h.api('GET', `/users/${id}`)).body.status).toBe('disabled'),
    },
    {
      action: 'enable',
      event: 'user.enabled',
      notice: /The account of cara@acme.test is enabled/,
      check: async (id) => expect((await h.api('GET', `/users/${id}`)).body.status).toBe('active'),
    },
  ];

  it.each(cases.flatMap((c) => ['admin@acme.test', 'root@free.test'].map((who) => [c.action, who, c] as const)))('%s by %s', async (_a, who, c) => {
    const id = ids['cara@acme.test']!;
    if (c.action === 'enable') expect((await h.api('POST', `/users/${id}/disable`)).status).toBe(200);
    if (c.action === 'password-reset') await h.app.services.db('accounts').where({ id }).update({ must_change_password: false });
    await c.arrange?.(id);
    const before = (await events(c.event)).length;
    const { browser } = await signIn(who);
    const userPage = await browser.page(url(userPath('cara@acme.test')));
    const link = userPage.doc.querySelector(`a[href="${userPath('cara@acme.test')}/${c.action}"]`);
    expect(link).not.toBeNull();
    const confirm = await browser.page(url(link!.getAttribute('href')!));
    expect(confirm.status).toBe(200);
    expect(confirm.doc.querySelector('a[href="' + userPath('cara@acme.test') + '"]')).not.toBeNull();
    const res = await browser.submit(confirm, 'form.confirm', c.fields ?? {});
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`${userPath('cara@acme.test')}?done=${c.action}`);
    const after = await browser.page(url(res.headers.get('location')!));
    expect(after.doc.querySelector('.notice[role="status"]')!.text).toMatch(c.notice);
    await c.check(id);
    const trail = await events(c.event);
    expect(trail.length).toBe(before + 1);
    expect(trail[0]).toMatchObject({ actorType: 'user', actorId: ids[who], targetId: id });
  });

  it('a notice comes only from the fixed sentences: ?done= with anything else shows none', async () => {
    const { browser } = await signIn('admin@acme.test');
    const p = await browser.page(url(`${userPath('bob@acme.test')}?done=${encodeURIComponent('<b>Hacked</b>')}`));
    expect(p.status).toBe(200);
    expect(p.doc.querySelector('.notice')).toBeNull();
  });
});

describe('invite', () => {
  it('the form invites on the organization\'s verified domain; the invitation is mailed and audited', async () => {
    const { browser, page } = await signIn('admin@acme.test');
    const before = h.smtp.to('new@acme.test').length;
    const p = await submitAndRead(browser, page, 'form[action$="/users/invite"]', { email: 'new@acme.test', name: 'Nina New' });
    expect(p.status).toBe(201);
    expect(p.doc.querySelector('.notice')!.text).toContain('An invitation was emailed to new@acme.test.');
    await h.smtp.waitFor((m) => m.to === 'new@acme.test', before);
    const listed = (await h.api('GET', '/users?email=new@acme.test')).body.items;
    expect(listed).toMatchObject([{ name: 'Nina New', organizationId: orgs.acme, role: 'member' }]);
    expect((await events('user.created'))[0]).toMatchObject({ actorType: 'user', actorId: ids['admin@acme.test'], targetId: listed[0].id });
  });

  it('a platform admin invites into the organization whose page they are on', async () => {
    const { browser, page } = await signIn('root@free.test');
    const p = await submitAndRead(browser, page, 'form[action$="/users/invite"]', { email: 'rooted@acme.test' });
    expect(p.status).toBe(201);
    const listed = (await h.api('GET', '/users?email=rooted@acme.test')).body.items;
    expect(listed).toMatchObject([{ organizationId: orgs.acme, name: null }]);
    expect((await events('user.created'))[0]).toMatchObject({ actorType: 'user', actorId: ids['root@free.test'], targetId: listed[0].id });
  });

  it('refusals in plain words, the form kept: another domain, a taken address, no address', async () => {
    const { browser, page } = await signIn('admin@acme.test');
    const accounts = async () => Number(((await h.app.services.db('accounts').count({ n: '*' }).first()) as { n: number | string }).n);
    const count = await accounts();
    let p = await submitAndRead(browser, page, 'form[action$="/users/invite"]', { email: 'stranger@free.test', name: '' });
    expect(p.status).toBe(403);
    expect(p.doc.querySelector('#invite-error')!.text).toContain('verified domains');
    expect(p.doc.querySelector('#invite-email')!.getAttribute('value')).toBe('stranger@free.test');
    expect(p.doc.querySelector('#invite-email')!.getAttribute('aria-describedby')).toBe('invite-error');
    p = await submitAndRead(browser, p, 'form[action$="/users/invite"]', { email: 'bob@acme.test' });
    expect(p.status).toBe(409);
    expect(p.doc.querySelector('#invite-error')!.text).toContain('There is already an account with this email address.');
    p = await submitAndRead(browser, p, 'form[action$="/users/invite"]', { email: 'not an address' });
    expect(p.status).toBe(400);
    expect(p.doc.querySelector('#invite-error')!.text).toContain('Enter an email address');
    expect(await accounts()).toBe(count);
  });
});

describe('refusals: nothing changes', () => {
  const snapshot = async () => ({
    row: await h.app.services.db('accounts').where({ id: ids['bob@acme.test'] }).first(),
    owner: await h.app.services.db('accounts').where({ id: ids['owner@acme.test'] }).first(),
    accounts: Number(((await h.app.services.db('accounts').count({ n: '*' }).first()) as { n: number | string }).n),
    events: Number(((await h.app.services.db('audit_events').count({ n: '*' }).first()) as { n: number | string }).n),
  });
  const ACTIONS = ['unlock', 'password-reset', 'reset-2fa', 'end-sessions', 'disable', 'enable'];

  it('an admin of another organization: every page and form of this organization\'s users is refused', async () => {
    const { browser: b, page: own } = await consoleSignIn(h.running.issuer, 'owner@other.test', PASSWORD, new Browser(), usersPath('other'));
    const csrf = csrfOf(own);
    const before = await snapshot();
    expect((await b.request(url(usersPath()))).status).toBe(403);
    expect((await b.request(url(userPath('bob@acme.test')))).status).toBe(403);
    for (const a of ACTIONS) {
      expect([a, (await b.request(url(`${userPath('bob@acme.test')}/${a}`))).status]).toEqual([a, 403]);
      expect([a, (await postForm(b, url(`${userPath('bob@acme.test')}/${a}`), { csrf })).status]).toEqual([a, 403]);
      // Through their own organization's path: bob is not theirs.
      expect([a, (await postForm(b, url(`${usersPath('other')}/${ids['bob@acme.test']}/${a}`), { csrf })).status]).toEqual([a, 404]);
    }
    expect((await postForm(b, url(`${usersPath()}/invite`), { csrf, email: 'x@acme.test' })).status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it('a member gets the "not an administrator" page; anonymous is sent to sign in (GET) or refused (POST)', async () => {
    const member = (await consoleSignIn(h.running.issuer, 'member@acme.test', PASSWORD, new Browser(), usersPath())).browser;
    const before = await snapshot();
    expect((await member.request(url(usersPath()))).status).toBe(403);
    expect((await member.request(url(`${userPath('bob@acme.test')}/disable`))).status).toBe(403);
    expect((await postForm(member, url(`${userPath('bob@acme.test')}/disable`), { csrf: 'x' })).status).toBe(403);
    expect((await postForm(member, url(`${usersPath()}/invite`), { csrf: 'x', email: 'x@acme.test' })).status).toBe(403);
    const anonymous = new Browser();
    for (const path of [usersPath(), userPath('bob@acme.test'), `${userPath('bob@acme.test')}/disable`]) {
      const res = await anonymous.request(url(path));
      expect([path, res.status]).toEqual([path, 302]);
      expect(res.headers.get('location')).toMatch(/\/auth\?/);
    }
    for (const a of ACTIONS) expect((await postForm(anonymous, url(`${userPath('bob@acme.test')}/${a}`), { csrf: 'x' })).status).toBe(401);
    expect((await postForm(anonymous, url(`${usersPath()}/invite`), { csrf: 'x', email: 'x@acme.test' })).status).toBe(401);
    expect(await snapshot()).toEqual(before);
  });

  it('a form without the CSRF token, or with a wrong one, is refused', async () => {
    const { browser, page } = await signIn('admin@acme.test');
    const before = await snapshot();
    for (const a of ACTIONS) {
      expect((await postForm(browser, url(`${userPath('bob@acme.test')}/${a}`), {})).status).toBe(403);
      expect((await postForm(browser, url(`${userPath('bob@acme.test')}/${a}`), { csrf: 'x'.repeat(43) })).status).toBe(403);
    }
    expect((await submitAndRead(browser, page, 'form[action$="/users/invite"]', { email: 'csrf@acme.test', csrf: 'x'.repeat(43) })).status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it('an admin acting on an owner: the API\'s reason on the owner\'s page; an owner may', async () => {
    const { browser } = await signIn('admin@acme.test');
    const before = await snapshot();
    for (const a of ACTIONS) {
      const confirm = await browser.page(url(`${userPath('owner@acme.test')}/${a}`));
      const res = await submitAndRead(browser, confirm, 'form.confirm');
      expect([a, res.status]).toEqual([a, 403]);
      expect(res.doc.querySelector('.errors')!.text).toContain('Only an owner can make, demote, disable, reset, sign out or remove an owner.');
      expect(res.doc.querySelector('h1')!.text).toBe('owner@acme.test');
    }
    // The reason is the API's refusal said for a person, so it follows the page's language.
    await browser.page(url(`${userPath('owner@acme.test')}?lang=vi`));
    const vi = await submitAndRead(browser, await browser.page(url(`${userPath('owner@acme.test')}/disable`)), 'form.confirm');
    expect(vi.status).toBe(403);
    expect(vi.doc.querySelector('.errors')!.text).toContain('Chỉ chủ sở hữu mới có thể');
    expect(vi.doc.querySelector('.errors')!.text).not.toMatch(/only an owner/i);
    await browser.page(url(`${userPath('owner@acme.test')}?lang=en`));
    expect(await snapshot()).toEqual(before);
    const owner = await signIn('owner@acme.test');
    const confirm = await owner.browser.page(url(`${userPath('owner@acme.test')}/password-reset`));
    expect((await owner.browser.submit(confirm, 'form.confirm', {})).status).toBe(303);
  });

  it('an unknown action is not found', async () => {
    const { browser, page } = await signIn('admin@acme.test');
    expect((await browser.request(url(`${userPath('bob@acme.test')}/delete`))).status).toBe(404);
    expect((await postForm(browser, url(`${userPath('bob@acme.test')}/delete`), { csrf: csrfOf(page) })).status).toBe(404);
  });
});
