import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { createUser, organizationWithDomain } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, openGetForm, pageOf, postForm, submitAndRead } from '../helpers/console.js';

/**
 * The console's Members and roles page through its real forms: add by email, change a role, remove —
 * each through its confirmation page — and the contract's refusals (only owners act on owners; the last
 * owner stays; other organizations, plain members, anonymous visitors, a wrong CSRF token), with the
 * members read back through the admin API after each refusal.
 */
let h: AdminHarness;
const PASSWORD = 'Console-Pass-42';
const orgs: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  orgs.acme = await organizationWithDomain(h, 'acme corp', 'acme.test');
  orgs.other = await organizationWithDomain(h, 'other corp', 'other.test');
  const users: [string, string | null, 'owner' | 'admin' | 'member' | null][] = [
    ['owner@acme.test', 'acme', 'owner'],
    ['admin@acme.test', 'acme', 'admin'],
    ['member@acme.test', 'acme', 'member'],
    ['owner@other.test', 'other', 'owner'],
    ['new@acme.test', null, null],
    ['root@free.test', null, null],
  ];
  for (const [email, org, role] of users) {
    ids[email] = await createUser(h, email, PASSWORD);
    if (org) expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: ids[email], role })).status).toBe(200);
  }
  expect((await h.app.services.accounts.setPlatformAdmin('root@free.test', true)).changed).toBe(true);
});
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;
const membersPath = (org = 'acme') => `/console/orgs/${orgs[org]}/members`;
const signIn = (email: string) => consoleSignIn(h.running.issuer, email, PASSWORD);

/** The organization's members as the admin API lists them: email → role. */
async function roles(org = 'acme'): Promise<Record<string, string>> {
  const res = await h.api('GET', `/organizations/${orgs[org]}/members?limit=200`);
  return Object.fromEntries((res.body.items as Array<{ email: string; role: string }>).map((x) => [x.email, x.role]));
}

/** Opens the members page and follows a GET form to its confirmation page. */
async function confirmation(browser: Browser, selector: string, fields: Record<string, string>, org = 'acme'): Promise<Page> {
  const page = await browser.page(url(membersPath(org)));
  const res = await openGetForm(browser, page, selector, fields);
  return pageOf(res.url, res);
}

describe('the members page', () => {
  it('lists owners, admins and members separately', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await browser.page(url(membersPath()));
    expect(page.status).toBe(200);
    const heading = (role: string) => page.doc.querySelector(`section[aria-labelledby="group-${role}"]`)!.text;
    expect(heading('owner')).toContain('owner@acme.test');
    expect(heading('admin')).toContain('admin@acme.test');
    expect(heading('member')).toContain('member@acme.test');
    expect(heading('owner')).not.toContain('admin@acme.test');
  });

  it('an owner adds a user by email (confirmed first), changes the role, and removes them', async () => {
    const { browser } = await signIn('owner@acme.test');
    // Add: the GET form leads to a confirmation page; nothing changes before its POST.
    const confirmAdd = await confirmation(browser, 'form[action$="/members/add"]', { email: 'NEW@acme.test', role: 'admin' });
    expect(confirmAdd.status).toBe(200);
    expect(mainText(confirmAdd)).toContain('new@acme.test will be a member of this organization with the role Admin.');
    expect((await roles())['new@acme.test']).toBeUndefined();
    const added = await submitAndRead(browser, confirmAdd, 'form.confirm');
    expect(added.status).toBe(200);
    expect(mainText(added)).toContain('The member is added.');
    expect((await roles())['new@acme.test']).toBe('admin');

    const confirmChange = await confirmation(browser, `form[id="change-${ids['new@acme.test']}"]`, { role: 'member' });
    expect(mainText(confirmChange)).toContain('new@acme.test: Admin → Member');
    expect((await roles())['new@acme.test']).toBe('admin');
    const changed = await submitAndRead(browser, confirmChange, 'form.confirm');
    expect(mainText(changed)).toContain('The role is changed.');
    expect((await roles())['new@acme.test']).toBe('member');

    const confirmRemove = await pageOf(url(membersPath()), await browser.request(url(`${membersPath()}/remove?userId=${ids['new@acme.test']}`)));
    expect(mainText(confirmRemove)).toContain('new@acme.test will no longer be a member of this organization.');
    expect((await roles())['new@acme.test']).toBe('member');
    const removed = await submitAndRead(browser, confirmRemove, 'form.confirm');
    expect(mainText(removed)).toContain('The member is removed.');
    expect((await roles())['new@acme.test']).toBeUndefined();
  });

  it('an address the organization does not reach is not found, and nothing is added', async () => {
    const { browser } = await signIn('owner@acme.test');
    for (const email of ['nobody@acme.test', 'owner@other.test']) {
      const page = await confirmation(browser, 'form[action$="/members/add"]', { email, role: 'member' });
      expect(page.status).toBe(404);
      expect(mainText(page)).toContain(`No user with the address ${email} that your organization can add.`);
    }
    expect(Object.keys(await roles()).sort()).toEqual(['admin@acme.test', 'member@acme.test', 'owner@acme.test']);
  });

  it('an admin cannot make, demote or remove an owner: refused in plain words, nothing changed', async () => {
    const { browser } = await signIn('admin@acme.test');
    const before = await roles();
    const makeOwner = await confirmation(browser, `form[id="change-${ids['member@acme.test']}"]`, { role: 'owner' });
    const refused = await submitAndRead(browser, makeOwner, 'form.confirm');
    expect(refused.status).toBe(403);
    expect(mainText(refused)).toContain('Only an owner can make, demote, disable, reset, sign out or remove an owner.');
    const demote = await confirmation(browser, `form[id="change-${ids['owner@acme.test']}"]`, { role: 'member' });
    expect((await submitAndRead(browser, demote, 'form.confirm')).status).toBe(403);
    const remove = await pageOf(url(membersPath()), await browser.request(url(`${membersPath()}/remove?userId=${ids['owner@acme.test']}`)));
    expect((await submitAndRead(browser, remove, 'form.confirm')).status).toBe(403);
    expect(await roles()).toEqual(before);
  });

  it('the last owner stays: demoting or removing them is refused in plain words, nothing changed', async () => {
    const { browser } = await signIn('owner@acme.test');
    const before = await roles();
    const demote = await confirmation(browser, `form[id="change-${ids['owner@acme.test']}"]`, { role: 'admin' });
    const refused = await submitAndRead(browser, demote, 'form.confirm');
    expect(refused.status).toBe(409);
    expect(mainText(refused)).toContain('The last owner of an organization cannot be removed or demoted; make another owner first.');
    const remove = await pageOf(url(membersPath()), await browser.request(url(`${membersPath()}/remove?userId=${ids['owner@acme.test']}`)));
    const removed = await submitAndRead(browser, remove, 'form.confirm');
    expect(removed.status).toBe(409);
    expect(mainText(removed)).toContain('The last owner of an organization cannot be removed or demoted');
    expect(await roles()).toEqual(before);
  });

  it('a human platform admin uses the page for any organization', async () => {
    const { browser } = await signIn('root@free.test');
    const page = await browser.page(url(membersPath('other')));
    expect(mainText(page)).toContain('owner@other.test');
    const confirmAdd = await confirmation(browser, 'form[action$="/members/add"]', { email: 'new@acme.test', role: 'member' }, 'acme');
    expect((await submitAndRead(browser, confirmAdd, 'form.confirm')).status).toBe(200);
    expect((await roles())['new@acme.test']).toBe('member');
    const remove = await pageOf(url(membersPath()), await browser.request(url(`${membersPath()}/remove?userId=${ids['new@acme.test']}`)));
    expect((await submitAndRead(browser, remove, 'form.confirm')).status).toBe(200);
    expect((await roles())['new@acme.test']).toBeUndefined();
  });
});

describe('refusals change nothing', () => {
  const actions = (): Array<{ path: string; fields: Record<string, string> }> => [
    { path: `${membersPath()}/add`, fields: { userId: ids['new@acme.test']!, role: 'owner' } },
    { path: `${membersPath()}/change`, fields: { userId: ids['member@acme.test']!, role: 'owner' } },
    { path: `${membersPath()}/remove`, fields: { userId: ids['member@acme.test']! } },
  ];
  const pages = () => [membersPath(), `${membersPath()}/add?email=new@acme.test&role=admin`, `${membersPath()}/change?userId=${ids['member@acme.test']}&role=owner`, `${membersPath()}/remove?userId=${ids['member@acme.test']}`];

  it.each([
    ['an owner of another organization', 'owner@other.test', 403],
    ['a plain member', 'member@acme.test', 403],
  ])('%s is refused on every page and form', async (_who, email, status) => {
    const before = await roles();
    const { browser, page } = await signIn(email);
    for (const path of pages()) expect((await browser.request(url(path))).status).toBe(status);
    // A plain member has no console page (and so no token); the other organization's owner has theirs.
    const csrf = page.doc.querySelector('input[name="csrf"]') ? csrfOf(page) : 'x';
    for (const a of actions()) expect((await postForm(browser, url(a.path), { ...a.fields, csrf })).status).toBe(status);
    expect(await roles()).toEqual(before);
  });

  it('anonymous: pages send to sign-in, forms are refused', async () => {
    const before = await roles();
    const anonymous = new Browser();
    for (const path of pages()) {
      const res = await anonymous.request(url(path));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(/\/auth\?/);
    }
    for (const a of actions()) expect((await postForm(anonymous, url(a.path), { ...a.fields, csrf: 'x' })).status).toBe(401);
    expect(await roles()).toEqual(before);
  });

  it('a form without or with a wrong CSRF token is refused', async () => {
    const before = await roles();
    const { browser } = await signIn('owner@acme.test');
    for (const a of actions()) {
      expect((await postForm(browser, url(a.path), a.fields)).status).toBe(403);
      expect((await postForm(browser, url(a.path), { ...a.fields, csrf: 'x'.repeat(43) })).status).toBe(403);
    }
    expect(await roles()).toEqual(before);
  });
});
