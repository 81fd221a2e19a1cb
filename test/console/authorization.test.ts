import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { consoleSignIn, csrfOf, postForm } from '../helpers/console.js';
import { createUser, organizationWithDomain } from '../helpers/setup.js';

/**
 * Every console page and every console action, tried by each visitor who must not use it: an anonymous
 * visitor, a plain member of the organization, an administrator of another organization, and (for the
 * platform's pages) an owner; and every action with no CSRF token and with a wrong one. Each is refused
 * and nothing changes: the state an administrator could change (read through the admin API as the
 * platform) and the audit trail's administrative events are the same before and after.
 *
 * Each row is a console URL; a form row carries what a real form would post. `{org}` is the target
 * organization, `{user}` a user on its domain, `{owner}` its owner.
 */
type Row = { name: string; method: 'GET' | 'POST'; path: string; fields?: Record<string, string>; platform?: true };

/** What the policy editor posts (a few fields; the others count as off or empty). */
const POLICY_FORM = { 'password.minLength': '12', 'authentication.enforce2fa': 'true', confirmLockout: 'true' };

const ROWS: Row[] = [
  { name: 'domain page', method: 'GET', path: '/console/orgs/{org}/domain' },
  { name: 'domain revoke confirmation', method: 'GET', path: '/console/orgs/{org}/domain/revoke?domain=target.test' },
  { name: 'claim a domain', method: 'POST', path: '/console/orgs/{org}/domain/claim', fields: { domain: 'intruder.test' } },
  { name: 'verify a domain', method: 'POST', path: '/console/orgs/{org}/domain/verify', fields: { domain: 'target.test' } },
  { name: 'revoke a domain', method: 'POST', path: '/console/orgs/{org}/domain/revoke', fields: { domain: 'target.test' } },
  // The API's force is a platform action: the organization's own owner is refused too.
  { name: 'verify without DNS', method: 'POST', path: '/console/orgs/{org}/domain/verify', fields: { domain: 'pending.test', force: 'true', checked: 'true' }, platform: true },

  { name: 'security policies', method: 'GET', path: '/console/orgs/{org}/security-policies' },
  ...['preview', 'edit', 'save'].map((step): Row => ({ name: `policy ${step}`, method: 'POST', path: `/console/orgs/{org}/security-policies/${step}`, fields: POLICY_FORM })),

  { name: 'users', method: 'GET', path: '/console/orgs/{org}/users?q=user' },
  { name: 'invite a user', method: 'POST', path: '/console/orgs/{org}/users/invite', fields: { email: 'invited@target.test', name: 'Intruder' } },
  { name: "a user's page", method: 'GET', path: '/console/orgs/{org}/users/{user}' },
  ...['unlock', 'password-reset', 'reset-2fa', 'end-sessions', 'disable', 'enable'].flatMap((action): Row[] => [
    { name: `${action} confirmation`, method: 'GET', path: `/console/orgs/{org}/users/{user}/${action}` },
    { name: action, method: 'POST', path: `/console/orgs/{org}/users/{user}/${action}` },
  ]),

  { name: 'organizations', method: 'GET', path: '/console/platform/organizations', platform: true },
  { name: 'create an organization', method: 'POST', path: '/console/platform/organizations', fields: { name: 'Intruder corp', owner: 'member@target.test' }, platform: true },
  { name: 'clients', method: 'GET', path: '/console/platform/clients', platform: true },
  { name: 'register a client', method: 'POST', path: '/console/platform/clients', fields: { client_name: 'Intruder app', session_type: 'web', redirect_uris: 'https://intruder.example/cb' }, platform: true },
  { name: 'new secret confirmation', method: 'GET', path: '/console/platform/clients/{client}/rotate', platform: true },
  { name: 'new secret', method: 'POST', path: '/console/platform/clients/{client}/rotate', platform: true },
  { name: 'change client form', method: 'GET', path: '/console/platform/clients/{client}/edit', platform: true },
  { name: 'change a client', method: 'POST', path: '/console/platform/clients/{client}/edit', fields: { client_name: 'Hijacked app', redirect_uris: 'https://intruder.example/cb' }, platform: true },
  { name: 'delete client confirmation', method: 'GET', path: '/console/platform/clients/{client}/delete', platform: true },
  { name: 'delete a client', method: 'POST', path: '/console/platform/clients/{client}/delete', platform: true },
  { name: 'baseline policy', method: 'GET', path: '/console/platform/baseline-policy', platform: true },
  ...['preview', 'edit', 'save'].map((step): Row => ({ name: `baseline ${step}`, method: 'POST', path: `/console/platform/baseline-policy/${step}`, fields: POLICY_FORM, platform: true })),
  { name: 'signing keys', method: 'GET', path: '/console/platform/keys', platform: true },
  { name: 'rotate confirmation', method: 'GET', path: '/console/platform/keys/rotate', platform: true },
  { name: 'rotate the signing keys', method: 'POST', path: '/console/platform/keys/rotate', platform: true },

  { name: 'members page', method: 'GET', path: '/console/orgs/{org}/members' },
  { name: 'add member confirmation', method: 'GET', path: '/console/orgs/{org}/members/add?email=user@target.test&role=owner' },
  { name: 'change role confirmation', method: 'GET', path: '/console/orgs/{org}/members/change?userId={member}&role=owner' },
  { name: 'remove member confirmation', method: 'GET', path: '/console/orgs/{org}/members/remove?userId={member}' },
  { name: 'add a member', method: 'POST', path: '/console/orgs/{org}/members/add', fields: { userId: '{user}', role: 'owner' } },
  { name: 'change a role', method: 'POST', path: '/console/orgs/{org}/members/change', fields: { userId: '{member}', role: 'owner' } },
  { name: 'remove a member', method: 'POST', path: '/console/orgs/{org}/members/remove', fields: { userId: '{owner}' } },
  { name: 'audit trail page', method: 'GET', path: '/console/orgs/{org}/audit?type=organization.member_set' },
  { name: 'audit trail CSV', method: 'GET', path: '/console/orgs/{org}/audit/export.csv' },
  { name: 'audit trail JSON Lines', method: 'GET', path: '/console/orgs/{org}/audit/export.jsonl?user=nobody@target.test' },
  { name: 'platform audit trail', method: 'GET', path: '/console/platform/audit', platform: true },
  { name: 'platform audit trail CSV', method: 'GET', path: '/console/platform/audit/export.csv?user=nobody@target.test', platform: true },
];

const PASSWORD = 'Console-authz-2026';
let h: AdminHarness;
const ids: Record<string, string> = {};
/** Signed-in console browsers, with a page of their own (for their own valid CSRF token). */
const visitors: Record<string, { browser: Browser; page: Page }> = {};

beforeAll(async () => {
  h = await startAdminHarness();
  ids.org = await organizationWithDomain(h, 'Target corp', 'target.test');
  ids.other = await organizationWithDomain(h, 'Other corp', 'other.test');
  ids.owner = await createUser(h, 'owner@target.test', PASSWORD);
  ids.member = await createUser(h, 'member@target.test', PASSWORD);
  ids.user = await createUser(h, 'user@target.test', PASSWORD);
  ids.otherOwner = await createUser(h, 'owner@other.test', PASSWORD);
  ids.otherAdmin = await createUser(h, 'admin@other.test', PASSWORD);
  for (const [user, org, role] of [['owner', 'org', 'owner'], ['member', 'org', 'member'], ['otherOwner', 'other', 'owner'], ['otherAdmin', 'other', 'admin']] as const) {
    expect((await h.api('POST', `/organizations/${ids[org]}/members`, { userId: ids[user], role })).status).toBe(200);
  }
  expect((await h.api('POST', `/organizations/${ids.org}/domains`, { domain: 'pending.test' })).status).toBe(201);
  ids.client = (await h.api('POST', '/clients', { client_name: 'Target app', session_type: 'web', redirect_uris: ['https://target.example/cb'] })).body.client_id;
  await createUser(h, 'root@platform.test', PASSWORD);
  // What `gatehouse user grant-platform-admin` does.
  await h.app.services.accounts.setPlatformAdmin('root@platform.test', true);
  for (const [who, email] of [['root', 'root@platform.test'], ['owner', 'owner@target.test'], ['member', 'member@target.test'], ['otherOwner', 'owner@other.test'], ['otherAdmin', 'admin@other.test']] as const) {
    visitors[who] = await consoleSignIn(h.running.issuer, email, PASSWORD);
  }
});
afterAll(() => h.stop());

const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(ids[k]!));
const url = (row: Row) => `${h.running.issuer}${fill(row.path)}`;
const fields = (row: Row) => Object.fromEntries(Object.entries(row.fields ?? {}).map(([k, v]) => [k, fill(v)]));

/** Events a visit itself records (signing in, sessions); everything else is an administrator's change. */
const ROUTINE = /^(sign_in|session|token|account_page)\./;

/** What an administrator could change, read as the platform through the admin API. */
async function state(): Promise<unknown> {
  const reads = [
    `/organizations/${ids.org}`,
    `/organizations/${ids.org}/domains`,
    `/organizations/${ids.org}/security-policy`,
    `/organizations/${ids.org}/members`,
    `/baseline-policy`,
    `/organizations`,
    `/clients`,
    `/clients/${ids.client}`,
    ...['owner', 'member', 'user'].flatMap((u) => [`/users/${ids[u]}`, `/users/${ids[u]}/sessions`]),
    `/users?reachedBy=${ids.org}`,
  ];
  const answers = await Promise.all(reads.map(async (path) => [path, (await h.api('GET', path)).body]));
  const events = (await h.api('GET', '/events?limit=200')).body.items.filter((e: { type: string }) => !ROUTINE.test(e.type));
  const jwks = await (await fetch(`${h.running.issuer}/jwks`)).json();
  return { answers, events, jwks };
}

/**
 * Runs a refused visit and checks that the state is what it was. The state after one refusal is the state
 * before the next (nothing changes in between), so each check reads it once; after a failure it is read afresh.
 */
let known: unknown;
async function expectNothingChanges(visitAndCheck: () => Promise<void>): Promise<void> {
  const before = known ?? (await state());
  known = undefined;
  await visitAndCheck();
  const after = await state();
  expect(after).toEqual(before);
  known = after;
}

async function visit(row: Row, browser: Browser, csrf: string | undefined): Promise<Response> {
  if (row.method === 'GET') return browser.request(url(row));
  return postForm(browser, url(row), { ...fields(row), ...(csrf === undefined ? {} : { csrf }) });
}

describe.each(ROWS)('$method $path ($name)', (row) => {
  it('an anonymous visitor is sent to sign in (a page) or refused (a form); nothing changes', async () => {
    await expectNothingChanges(async () => {
      const res = await visit(row, new Browser(), 'not-a-session-token');
      if (row.method === 'GET') {
        expect(res.status).toBe(302);
        expect(res.headers.get('location')).toMatch(/\/auth\?.*client_id=gatehouse-console/);
      } else {
        expect(res.status).toBe(401);
      }
    });
  });

  it.each(['member', 'otherOwner', 'otherAdmin', ...(row.platform ? ['owner'] : [])])('%s is refused; nothing changes', async (who) => {
    const { browser, page } = visitors[who]!;
    await expectNothingChanges(async () => {
      // Their own session's valid token when they have one (a member's page has no form).
      const res = await visit(row, browser, page.doc.querySelector('input[name="csrf"]') ? csrfOf(page) : 'none');
      expect([403, 404]).toContain(res.status);
      expect(await res.text()).not.toContain('Target corp');
    });
  });

  if (row.method === 'POST') {
    it.each([['no CSRF token', undefined], ['a wrong CSRF token', 'x'.repeat(43)]])('the owner with %s is refused; nothing changes', async (_, csrf) => {
      await expectNothingChanges(async () => {
        const res = await visit(row, visitors.owner!.browser, csrf);
        expect(res.status).toBe(403);
      });
    });
  }
});

describe('every console page', () => {
  it.each(ROWS.filter((r) => r.method === 'GET'))('$path answers its administrator with a strict Content-Security-Policy and no inline script or style', async (row) => {
    const res = await visitors[row.platform ? 'root' : 'owner']!.browser.request(url(row));
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });
});
