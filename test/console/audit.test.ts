import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { translator } from '../../src/i18n/index.js';
import { eventWords } from '../../src/console/audit-words.js';
import { consoleSignIn, mainText, openGetForm, pageOf, submitAndRead } from '../helpers/console.js';

/**
 * The console's Audit trail page through its real GET form: each filter narrows the trail exactly as the
 * admin API does, pages newest first, policy changes as a readable diff, and the CSV / JSON Lines exports
 * hold every matching event (CSV safe against formula injection); refusals for everyone else.
 */
let h: AdminHarness;
const PASSWORD = 'Console-Pass-42';
const orgs: Record<string, string> = {};
const ids: Record<string, string> = {};
const FAILED_SIGN_INS = 60;

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  orgs.acme = await organizationWithDomain(h, 'acme corp', 'acme.test');
  orgs.other = await organizationWithDomain(h, 'other corp', 'other.test');
  for (const [email, org, role] of [
    ['owner@acme.test', 'acme', 'owner'],
    ['member@acme.test', 'acme', 'member'],
    ['owner@other.test', 'other', 'owner'],
    ['ann@acme.test', null, null],
    ['root@free.test', null, null],
  ] as const) {
    ids[email] = await createUser(h, email, PASSWORD);
    if (org) expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: ids[email], role })).status).toBe(200);
  }
  expect((await h.app.services.accounts.setPlatformAdmin('root@free.test', true)).changed).toBe(true);
  await putPolicy(h, orgs.acme!, { password: { minLength: 12 }, authentication: { enforce2fa: true } });
  // 2FA off again, so the test users sign in with their password alone.
  await putPolicy(h, orgs.acme!, { password: { minLength: 12 } });
  // More events than one page holds, and one whose text a spreadsheet would run as a formula.
  for (let i = 0; i < FAILED_SIGN_INS; i++) {
    await h.app.services.audit.record('sign_in.failed', { actor: { type: 'anonymous' }, organizationId: orgs.acme, target: { type: 'user', id: ids['ann@acme.test']! } });
  }
  await h.app.services.audit.record('domain.added', { actor: { type: 'system', id: 'test' }, organizationId: orgs.acme, target: { type: 'domain', id: '=HYPERLINK("http://evil.test")' } });
});
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;
const auditPath = (org = 'acme') => `/console/orgs/${orgs[org]}/audit`;
const signIn = (email: string) => consoleSignIn(h.running.issuer, email, PASSWORD);

/** Every event of the organization's trail matching `query`, through the admin API, newest first. */
async function apiEvents(query: Record<string, string> = {}, org = 'acme'): Promise<Array<{ id: string; type: string; actorId: string | null; targetId: string | null }>> {
  const all = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ ...query, limit: '200', ...(cursor ? { cursor } : {}) });
    const res = await h.api('GET', `/organizations/${orgs[org]}/events?${q}`);
    expect(res.status).toBe(200);
    all.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return all;
}

/** Every event shown, following "Older events" to the end: [what, who/whom/address line] per event. */
async function shownEvents(browser: Browser, first: Page): Promise<Array<[string, string]>> {
  const shown: Array<[string, string]> = [];
  for (let page: Page | null = first; page !== null; ) {
    expect(page.status).toBe(200);
    for (const li of page.doc.querySelectorAll('.audit-events > li')) {
      shown.push([li.querySelector('.audit-what')!.text.trim(), li.querySelector('.audit-who')!.text.replace(/\s+/g, ' ').trim()]);
    }
    const older: { getAttribute(name: string): string | undefined } | undefined = page.doc.querySelectorAll('.pager a').find((a) => a.text.includes('Older events'));
    page = older ? await browser.page(new URL(older.getAttribute('href')!, page.url).href) : null;
  }
  return shown;
}

/** Fills the filter form and opens the filtered page. */
async function filtered(browser: Browser, fields: Record<string, string>): Promise<Page> {
  const page = await browser.page(url(auditPath()));
  const res = await openGetForm(browser, page, 'form.audit-filters', fields);
  return pageOf(res.url, res);
}

const en = translator('en');
const today = new Date().toISOString().slice(0, 10);
const dayOffset = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

describe('the audit trail page', () => {
  it('shows each event in plain words, newest first, with the policy change as a readable diff', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await browser.page(url(auditPath()));
    expect(page.status).toBe(200);
    expect(page.doc.querySelectorAll('.audit-events > li')).toHaveLength(50);
    expect(page.doc.querySelector('.audit-events time[data-local]')).not.toBeNull();
    const all = await shownEvents(browser, page);
    const api = await apiEvents();
    // Newest first, as the API lists them, each in plain words.
    expect(all.map(([what]) => what.split(' · ')[0])).toEqual(api.map((e) => en.text(eventWords(e.type))));
    expect(all.find(([what]) => what.startsWith('Domain claimed'))![1]).toBe('By Gatehouse · On =HYPERLINK("http://evil.test")');
    const policies = (await filtered(browser, { type: 'security_policy.updated' })).doc.querySelectorAll('.audit-events > li');
    const diffs = policies.map((li) => li.querySelectorAll('.audit-changes li').map((c) => c.text.trim()));
    expect(diffs).toEqual([['Enforce 2FA: on → off'], ['Minimum password length: 8 → 12', 'Enforce 2FA: off → on']]);
  });

  it('a change made in the console is shown with the administrator as who, the user as whom, and the address', async () => {
    const { browser } = await signIn('owner@acme.test');
    const confirm = await pageOf(url(''), await browser.request(url(`/console/orgs/${orgs.acme}/members/add?email=ann@acme.test&role=member`)));
    expect((await submitAndRead(browser, confirm, 'form.confirm')).status).toBe(200);
    const page = await filtered(browser, { type: 'organization.member_set', user: 'ann@acme.test' });
    const li = page.doc.querySelector('.audit-events > li')!;
    expect(li.text.replace(/\s+/g, ' ')).toMatch(/Member added or role changed .*By owner@acme\.test · On ann@acme\.test · From (127\.0\.0\.1|::1)/);
    expect(li.querySelector('.audit-changes')!.text).toContain('Role: none → Member');
  });

  it.each([
    ['event type', { type: 'sign_in.failed' }, () => ({ type: 'sign_in.failed' })],
    ['user by email', { user: 'ann@acme.test' }, () => ({ user: ids['ann@acme.test']! })],
    ['user by id', { user: 'ID' }, () => ({ user: ids['ann@acme.test']! })],
    ['from today', { from: today }, () => ({ since: `${today}T00:00:00Z` })],
    ['from tomorrow', { from: dayOffset(1) }, () => ({ since: `${dayOffset(1)}T00:00:00Z` })],
    ['to yesterday', { to: dayOffset(-1) }, () => ({ until: `${today}T00:00:00Z` })],
    ['user within a day', { user: 'ann@acme.test', from: today, to: today }, () => ({ user: ids['ann@acme.test']!, since: `${today}T00:00:00Z`, until: `${dayOffset(1)}T00:00:00Z` })],
    ['type and user', { type: 'organization.member_set', user: 'owner@acme.test' }, () => ({ type: 'organization.member_set', user: ids['owner@acme.test']! })],
  ] as Array<[string, Record<string, string>, () => Record<string, string>]>)('the %s filter narrows the trail as the API does', async (_name, fields, apiQuery) => {
    const { browser } = await signIn('owner@acme.test');
    const form: Record<string, string> = { ...fields, ...(fields.user === 'ID' ? { user: ids['ann@acme.test']! } : {}) };
    const page = await filtered(browser, form);
    // The filters stay in the URL and in the form.
    for (const [k, v] of Object.entries(form)) expect(new URL(page.url).searchParams.get(k)).toBe(v);
    const expected = await apiEvents(apiQuery());
    const shown = await shownEvents(browser, page);
    expect(shown).toHaveLength(expected.length);
    if (form.type === 'sign_in.failed') expect(shown.length).toBe(FAILED_SIGN_INS);
    if (form.user) for (const [, who] of shown) expect(who).toContain('acme.test');
  });

  it('an address nobody has shows no events and says so', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await filtered(browser, { user: 'nobody@acme.test' });
    expect(mainText(page)).toContain('No user has that email address.');
    expect(page.doc.querySelectorAll('.audit-events > li')).toHaveLength(0);
  });
});

describe('the exports', () => {
  it('CSV: every matching event, a header row, an attachment, formula cells made text', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await browser.page(url(auditPath()));
    const link = page.doc.querySelectorAll('.audit-exports a').find((a) => a.text === 'CSV')!.getAttribute('href')!;
    const res = await browser.request(new URL(link, page.url).href);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="gatehouse-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = (await res.text()).split('\r\n').filter(Boolean);
    expect(rows[0]).toBe('"Time (UTC)","Event","Event type","Who","On whom","From address","Changes","Event id"');
    const expected = await apiEvents();
    expect(rows).toHaveLength(expected.length + 1);
    expect(rows.slice(1).map((r) => r.match(/"(\d+)"$/)![1])).toEqual(expected.map((e) => e.id));
    expect(rows).toContain(rows.find((r) => r.includes('HYPERLINK')));
    expect(rows.find((r) => r.includes('HYPERLINK'))).toContain(`"'=HYPERLINK(""http://evil.test"")"`);
    expect(rows.filter((r) => r.includes('security_policy.updated')).map((r) => r.split('","')[6])).toEqual(['Enforce 2FA: on → off', 'Minimum password length: 8 → 12; Enforce 2FA: off → on']);
  });

  it('JSON Lines with the page\'s filters: every matching event, one object a line', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await filtered(browser, { type: 'sign_in.failed', user: 'ann@acme.test' });
    const link = page.doc.querySelectorAll('.audit-exports a').find((a) => a.text === 'JSON Lines')!.getAttribute('href')!;
    expect(link).toContain('type=sign_in.failed');
    const res = await browser.request(new URL(link, page.url).href);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="gatehouse-audit-.*\.jsonl"$/);
    const events = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(events).toHaveLength(FAILED_SIGN_INS);
    expect(events.map((e) => e.id)).toEqual((await apiEvents({ type: 'sign_in.failed' })).map((e) => e.id));
    expect(events[0]).toMatchObject({ type: 'sign_in.failed', actorType: 'anonymous', target: 'ann@acme.test', organizationId: orgs.acme });
  });
});

describe('who may read the trail', () => {
  const paths = () => [auditPath(), `${auditPath()}/export.csv`, `${auditPath()}/export.jsonl?user=nobody@acme.test`];

  it.each([
    ['an owner of another organization', 'owner@other.test'],
    ['a plain member', 'member@acme.test'],
  ])('%s is refused', async (_who, email) => {
    const { browser } = await signIn(email);
    for (const path of paths()) {
      const res = await browser.request(url(path));
      expect(res.status).toBe(403);
      expect(res.headers.get('content-disposition')).toBeNull();
    }
  });

  it('anonymous visitors are sent to sign in', async () => {
    for (const path of paths()) {
      const res = await new Browser().request(url(path));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(/\/auth\?/);
    }
  });

  it('a human platform admin reads and exports any organization\'s trail', async () => {
    const { browser } = await signIn('root@free.test');
    const page = await browser.page(url(auditPath('other')));
    expect(mainText(page)).toContain('Organization created');
    const res = await browser.request(url(`${auditPath('other')}/export.jsonl`));
    expect((await res.text()).split('\n').filter(Boolean)).toHaveLength((await apiEvents({}, 'other')).length);
  });
});

describe('the platform audit trail', () => {
  /** Every event of the whole trail matching `query`, through the admin API. */
  async function allEvents(query: Record<string, string> = {}): Promise<Array<{ id: string; organizationId: string | null }>> {
    const all = [];
    let cursor: string | null = null;
    do {
      const res = await h.api('GET', `/events?${new URLSearchParams({ ...query, limit: '200', ...(cursor ? { cursor } : {}) })}`);
      all.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return all;
  }

  it('a human platform admin reads every organization\'s events, filters them, and exports them all', async () => {
    const { browser } = await signIn('root@free.test');
    const acme = await browser.page(url(auditPath()));
    const link = acme.doc.querySelectorAll('a').find((a) => a.text === 'The whole platform audit trail')!;
    const page = await browser.page(new URL(link.getAttribute('href')!, acme.url).href);
    expect(page.url).toBe(url('/console/platform/audit'));
    const created = await pageOf(url(''), await openGetForm(browser, page, 'form.audit-filters', { type: 'organization.created' }));
    const orgLines = created.doc.querySelectorAll('.audit-org').map((p) => p.text.trim());
    expect(orgLines).toEqual(expect.arrayContaining(['Organization: acme corp', 'Organization: other corp']));
    expect(orgLines).toHaveLength((await allEvents({ type: 'organization.created' })).length);
    const res = await browser.request(url('/console/platform/audit/export.jsonl'));
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="gatehouse-audit-.*\.jsonl"$/);
    const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string });
    // Signing in recorded events of its own after the export began at the latest.
    const after = await allEvents();
    expect(lines.map((e) => e.id)).toEqual(after.slice(after.length - lines.length).map((e) => e.id));
    expect(lines.length).toBeGreaterThan((await apiEvents()).length);
  });

  it('an organization owner is refused; anonymous visitors are sent to sign in', async () => {
    const { browser } = await signIn('owner@acme.test');
    expect(mainText(await browser.page(url(auditPath()))).includes('The whole platform audit trail')).toBe(false);
    for (const path of ['/console/platform/audit', '/console/platform/audit/export.csv', '/console/platform/audit/export.jsonl?user=nobody@acme.test']) {
      const res = await browser.request(url(path));
      expect(res.status).toBe(403);
      expect(res.headers.get('content-disposition')).toBeNull();
      expect((await new Browser().request(url(path))).status).toBe(302);
    }
  });
});

describe('GET /organizations/{orgId}/events?user=', () => {
  it('lists only the events the user caused or that were about them', async () => {
    const annId = ids['ann@acme.test']!;
    const events = await apiEvents({ user: annId });
    expect(events.length).toBeGreaterThanOrEqual(FAILED_SIGN_INS);
    for (const e of events) expect([e.actorId, e.targetId]).toContain(annId);
    const all = await apiEvents();
    expect(events.length).toBeLessThan(all.length);
  });
});
