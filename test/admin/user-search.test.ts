import { randomUUID } from 'node:crypto';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';

/**
 * The user search of GET /admin/v1/users (the console's Users page): q by email prefix or name, the
 * locked / noSecondFactor / passwordExpiring / disabled filters, paging, and an organization admin who
 * only ever sees the users their organization reaches, whatever they search for.
 */

let h: AdminHarness;
const PASSWORD = 'Pass-word-1';
const DAY = 86_400;
const orgs = { A: '', B: '' };
const ids: Record<string, string> = {};
let adminA = '';

async function verifyDomain(orgId: string, domain: string) {
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain });
  h.dns.txt.set(`_gatehouse-challenge.${domain}`, [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/${domain}/verify`)).body.status).toBe('verified');
}

async function user(email: string, name?: string, orgId?: string, role = 'member') {
  const res = await h.api('POST', '/users', { email, password: PASSWORD, ...(name ? { name } : {}) });
  expect(res.status).toBe(201);
  if (orgId) expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: res.body.id, role })).status).toBe(200);
  ids[email] = res.body.id;
  return res.body.id as string;
}

/** Every email the search returns, following the cursor with pages of `limit`. */
async function search(query: string, token?: string, limit = 200): Promise<string[]> {
  const emails: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await h.api('GET', `/users?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, undefined, token);
    expect([res.status, res.body.detail]).toEqual([200, undefined]);
    emails.push(...res.body.items.map((u: { email: string }) => u.email));
    cursor = res.body.nextCursor;
  } while (cursor);
  return emails.sort();
}

beforeAll(async () => {
  h = await startAdminHarness({ ACCESS_TOKEN_TTL_SECONDS: '3600', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  for (const name of ['A', 'B'] as const) orgs[name] = (await h.api('POST', '/organizations', { name })).body.id;
  await verifyDomain(orgs.A, 'alpha.test');
  await verifyDomain(orgs.B, 'beta.test');
  // A's passwords expire after 90 days; the baseline's never do.
  await h.app.services.policies.update(orgs.A, 'merge', { password: { expirationDays: 90 } }, {
    actor: { type: 'system', id: 'test' },
    request: { ip: null, userAgent: null },
  });

  await user('boss@alpha.test', 'Olga Boss', orgs.A, 'admin');
  await user('ann.roberts@alpha.test', 'Ann Roberts', orgs.A);
  await user('annie@alpha.test', 'Annie Hall', orgs.A);
  await user('bob@alpha.test', 'Bob 100%_Sure', orgs.A);
  await user('ann@beta.test', 'Ann Beta', orgs.B);
  await user('robertson@beta.test', 'Rob Robertson', orgs.B);
  await user('ann@free.test', 'Ann Free');
  await user('old@free.test', 'Old Baseline');

  const now = Math.floor(Date.now() / 1000);
  const db = h.app.services.db;
  // Locked: annie (now) and bob (a lock that has ended, so not locked).
  await db('accounts').where({ id: ids['annie@alpha.test'] }).update({ failed_attempts: 5, locked_until: now + 3600 });
  await db('accounts').where({ id: ids['bob@alpha.test'] }).update({ failed_attempts: 5, locked_until: now - 10 });
  // A second factor: ann.roberts (an authenticator app) and ann@beta (a passkey row).
  for (const [email, kind] of [['ann.roberts@alpha.test', 'totp'], ['ann@beta.test', 'passkey']] as const) {
    await db('factors').insert({ id: randomUUID(), account_id: ids[email], kind, label: 'x', created_at: now, secret: 'sealed' });
  }
  // Password ages under A's 90 days: annie expires in 10 days, bob expired 10 days ago, ann.roberts in 30 days.
  // old@free.test is ancient but governed by the baseline, where passwords never expire.
  await db('accounts').where({ id: ids['annie@alpha.test'] }).update({ password_changed_at: now - 80 * DAY });
  await db('accounts').where({ id: ids['bob@alpha.test'] }).update({ password_changed_at: now - 100 * DAY });
  await db('accounts').where({ id: ids['ann.roberts@alpha.test'] }).update({ password_changed_at: now - 60 * DAY });
  await db('accounts').where({ id: ids['old@free.test'] }).update({ password_changed_at: now - 1000 * DAY });
  expect((await h.api('POST', `/users/${ids['robertson@beta.test']}/disable`)).status).toBe(200);
  adminA = await h.userToken('boss@alpha.test', PASSWORD);
}, 120_000);
afterAll(() => h?.stop());

describe('GET /admin/v1/users: search and filters', () => {
  it('q matches the start of the email address or part of the name, ignoring case', async () => {
    expect(await search('q=ANN')).toEqual(['ann.roberts@alpha.test', 'ann@beta.test', 'ann@free.test', 'annie@alpha.test']);
    // A name substring (not the start of any address).
    expect(await search('q=roberts')).toEqual(['ann.roberts@alpha.test', 'robertson@beta.test']);
    expect(await search('q=%20boss%20')).toEqual(['boss@alpha.test']);
    // With an "@" it can only be an address: the start of one.
    expect(await search(`q=${encodeURIComponent('ann@')}`)).toEqual(['ann@beta.test', 'ann@free.test']);
    expect(await search(`q=${encodeURIComponent('@alpha.test')}`)).toEqual([]);
  });

  it('q is taken literally: LIKE wildcards match only themselves', async () => {
    expect(await search(`q=${encodeURIComponent('%')}`)).toEqual(['bob@alpha.test']);
    expect(await search(`q=${encodeURIComponent('0%_s')}`)).toEqual(['bob@alpha.test']);
    expect(await search('q=_')).toEqual(['bob@alpha.test']);
    expect(await search(`q=${encodeURIComponent('a_n')}`)).toEqual([]);
  });

  it('filters: locked now, no second factor, disabled, and their opposites; they combine with q', async () => {
    expect(await search('locked=true')).toEqual(['annie@alpha.test']);
    expect(await search('locked=false&q=ann')).toEqual(['ann.roberts@alpha.test', 'ann@beta.test', 'ann@free.test']);
    expect(await search('noSecondFactor=false')).toEqual(['ann.roberts@alpha.test', 'ann@beta.test']);
    expect(await search('noSecondFactor=true&q=ann')).toEqual(['ann@free.test', 'annie@alpha.test']);
    expect(await search('disabled=true')).toEqual(['robertson@beta.test']);
    expect(await search('disabled=false&q=rob')).toEqual(['ann.roberts@alpha.test']);
  });

  it('passwordExpiring: within 14 days (or expired) under the policy that governs each user', async () => {
    expect(await search('passwordExpiring=true')).toEqual(['annie@alpha.test', 'bob@alpha.test']);
    expect(await search('passwordExpiring=true&locked=true')).toEqual(['annie@alpha.test']);
    const notExpiring = await search('passwordExpiring=false');
    expect(notExpiring).toEqual(expect.arrayContaining(['ann.roberts@alpha.test', 'old@free.test', 'boss@alpha.test']));
    expect(notExpiring).not.toEqual(expect.arrayContaining(['annie@alpha.test']));
    expect(notExpiring).not.toContain('bob@alpha.test');
  });

  it('pages with the cursor like the plain list: one user a page gives the same users', async () => {
    expect(await search('q=ann', undefined, 1)).toEqual(await search('q=ann'));
    expect(await search('passwordExpiring=true', undefined, 1)).toEqual(['annie@alpha.test', 'bob@alpha.test']);
    const first = await h.api('GET', '/users?q=ann&limit=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toBe(first.body.items[1].id);
  });

  it('an organization admin sees only the users their organization reaches, whatever q and the filters say', async () => {
    expect(await search('q=ann', adminA)).toEqual(['ann.roberts@alpha.test', 'annie@alpha.test']);
    expect(await search('q=roberts', adminA)).toEqual(['ann.roberts@alpha.test']);
    expect(await search(`q=${encodeURIComponent('ann@beta')}`, adminA)).toEqual([]);
    expect(await search('disabled=true', adminA)).toEqual([]);
    expect(await search('noSecondFactor=false', adminA)).toEqual(['ann.roberts@alpha.test']);
    expect(await search('passwordExpiring=true', adminA, 1)).toEqual(['annie@alpha.test', 'bob@alpha.test']);
    // Asking for another organization's members is refused, search or not.
    const other = await h.api('GET', `/users?organizationId=${orgs.B}&q=ann`, undefined, adminA);
    expect([other.status, other.headers.get('content-type')]).toEqual([403, expect.stringContaining('application/problem+json')]);
  });

  it('refuses bad parameters with a problem document naming them', async () => {
    for (const [query, field] of [
      ['locked=yes', 'locked'],
      ['noSecondFactor=1', 'noSecondFactor'],
      ['passwordExpiring=', 'passwordExpiring'],
      ['q=', 'q'],
      ['q=%20%20', 'q'],
      [`q=${'a'.repeat(201)}`, 'q'],
      ['expired=true', ''],
    ] as const) {
      const res = await h.api('GET', `/users?${query}`);
      expect([query, res.status, res.headers.get('content-type')]).toEqual([query, 400, expect.stringContaining('application/problem+json')]);
      if (field) expect(JSON.stringify(res.body.errors)).toContain(field);
    }
  });
});
