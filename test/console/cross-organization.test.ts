import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { createUser, organizationWithDomain } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, pageOf, postForm } from '../helpers/console.js';

/**
 * What the console shows an organization's administrator about accounts of another organization, and
 * what it lets them do to a platform administrator whose address is on their domain (found by an
 * attacker's review; each test failed before its fix).
 */
let h: AdminHarness;
const PASSWORD = 'Console-Pass-42';
const orgs: Record<string, string> = {};
const ids: Record<string, string> = {};

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  orgs.acme = await organizationWithDomain(h, 'acme corp', 'acme.test');
  orgs.bee = await organizationWithDomain(h, 'bee corp', 'bee.test');
  for (const [email, org, role] of [
    ['owner@acme.test', 'acme', 'owner'],
    ['admin@acme.test', 'acme', 'admin'],
    ['secret-owner@bee.test', 'bee', 'owner'],
    ['root@acme.test', null, null],
  ] as const) {
    ids[email] = await createUser(h, email, PASSWORD);
    if (org) expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: ids[email], role })).status).toBe(200);
  }
  expect((await h.app.services.accounts.setPlatformAdmin('root@acme.test', true)).changed).toBe(true);
  // acme verifies shared.test; then bee's owner proves ownership of it too (the claim moves to bee).
  const claimA = await h.api('POST', `/organizations/${orgs.acme}/domains`, { domain: 'shared.test' });
  h.dns.txt.set('_gatehouse-challenge.shared.test', [[claimA.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgs.acme}/domains/shared.test/verify`)).status).toBe(200);
  const beeToken = await h.userToken('secret-owner@bee.test', PASSWORD);
  const claimB = await h.api('POST', `/organizations/${orgs.bee}/domains`, { domain: 'shared.test' }, beeToken);
  expect(claimB.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.shared.test', [[claimB.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgs.bee}/domains/shared.test/verify`, undefined, beeToken)).status).toBe(200);
});
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;

describe('another organization\'s people stay out of sight; a platform administrator stays out of reach', () => {
  it('a domain taken over by another organization: the loser\'s trail names neither the winner\'s owner, nor their address, nor their organization', async () => {
    const { browser } = await consoleSignIn(h.running.issuer, 'owner@acme.test', PASSWORD);
    const page = await browser.page(url(`/console/orgs/${orgs.acme}/audit?type=domain.revoked`));
    expect(page.status).toBe(200);
    const text = mainText(page);
    expect(text).toContain('shared.test');
    expect(text).toContain('Gatehouse');
    expect(text).not.toContain('secret-owner@bee.test');
    expect(page.doc.querySelector('.audit-who')!.text).not.toMatch(/127\.0\.0\.1/);
    const jsonl = await (await browser.request(url(`/console/orgs/${orgs.acme}/audit/export.jsonl?type=domain.revoked`))).text();
    expect(jsonl).toContain('claimed-by-another-organization');
    expect(jsonl).not.toContain('secret-owner@bee.test');
    expect(jsonl).not.toContain(orgs.bee!);
    expect(jsonl).not.toContain(ids['secret-owner@bee.test']!);
    // The winner's trail keeps the details.
    const winner = await h.api('GET', `/organizations/${orgs.bee}/events?type=domain.verified`);
    expect(winner.body.items[0]).toMatchObject({ actorId: ids['secret-owner@bee.test'] });
  });

  it('an account the organization may not read is not named in its trail, though a platform admin made it a member', async () => {
    const worker = await createUser(h, 'worker@bee.test', PASSWORD);
    expect((await h.api('POST', `/organizations/${orgs.acme}/members`, { userId: worker, role: 'member' })).status).toBe(200);
    const acmeToken = await h.userToken('admin@acme.test', PASSWORD);
    expect((await h.api('GET', `/users/${worker}`, undefined, acmeToken)).status).toBe(404);
    const { browser } = await consoleSignIn(h.running.issuer, 'admin@acme.test', PASSWORD);
    const audit = await browser.page(url(`/console/orgs/${orgs.acme}/audit?type=organization.member_set`));
    expect(mainText(audit)).not.toContain('worker@bee.test');
    expect(mainText(audit)).toContain('a user outside this organization');
    const csv = await (await browser.request(url(`/console/orgs/${orgs.acme}/audit/export.csv?type=organization.member_set`))).text();
    expect(csv).not.toContain('worker@bee.test');
  });

  it('the trail\'s user filter answers an address elsewhere on the platform exactly like one that does not exist', async () => {
    const { browser } = await consoleSignIn(h.running.issuer, 'admin@acme.test', PASSWORD);
    const elsewhere = await browser.page(url(`/console/orgs/${orgs.acme}/audit?user=secret-owner%40bee.test`));
    const missing = await browser.page(url(`/console/orgs/${orgs.acme}/audit?user=nobody%40bee.test`));
    const own = await browser.page(url(`/console/orgs/${orgs.acme}/audit?user=owner%40acme.test`));
    expect([elsewhere.status, missing.status, own.status]).toEqual([200, 200, 200]);
    expect(elsewhere.doc.querySelector('#unknown-user')).not.toBeNull();
    expect(missing.doc.querySelector('#unknown-user')).not.toBeNull();
    expect(own.doc.querySelector('#unknown-user')).toBeNull();
  });

  it('an organization\'s owner and admin read a platform administrator on their domain but cannot disable, reset, sign out or demote them', async () => {
    const root = await consoleSignIn(h.running.issuer, 'root@acme.test', PASSWORD);
    expect(root.page.url).toContain('/console/platform/organizations');
    const rootId = ids['root@acme.test']!;
    for (const who of ['admin@acme.test', 'owner@acme.test']) {
      const { browser } = await consoleSignIn(h.running.issuer, who, PASSWORD);
      const userPage = await browser.page(url(`/console/orgs/${orgs.acme}/users/${rootId}`));
      expect(userPage.status).toBe(200);
      for (const action of ['disable', 'reset-2fa', 'end-sessions', 'password-reset', 'unlock']) {
        const res = await postForm(browser, url(`/console/orgs/${orgs.acme}/users/${rootId}/${action}`), { csrf: csrfOf(userPage) });
        expect(res.status).toBe(403);
      }
      const token = await h.userToken(who, PASSWORD);
      expect((await h.api('POST', `/organizations/${orgs.acme}/members`, { userId: rootId, role: 'member' }, token)).status).toBe(403);
    }
    expect((await h.app.services.accounts.findById(rootId))!.status).toBe('active');
    // The platform administrator's console still works.
    const after = await pageOf(url('/console/platform/organizations'), await root.browser.request(url('/console/platform/organizations')));
    expect(after.status).toBe(200);
  });
});
