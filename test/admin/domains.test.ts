import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';

let h: AdminHarness;
beforeAll(async () => {
  h = await startAdminHarness({ DOMAIN_REVERIFY_INTERVAL_SECONDS: '60', DOMAIN_REVERIFY_MAX_FAILURES: '2', DNS_TIMEOUT_MS: '500' });
});
afterAll(() => h.stop());

async function newOrg(name: string): Promise<string> {
  const res = await h.api('POST', '/organizations', { name });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Pretends the re-verification interval has passed for every claim. */
async function makeDue() {
  await h.app.services.db('domain_claims').update({ last_checked_at: 1 });
}

describe('domain claims', () => {
  it('pending → verified by a DNS TXT record; the policy then governs the domain; revocation returns users to the baseline', async () => {
    const orgId = await newOrg('Acme');
    const user = await h.api('POST', '/users', { email: 'ann@acme.example', password: 'Pass-word-1' });
    expect(user.status).toBe(201);
    const effective = () => h.api('GET', `/users/${user.body.id}/effective-policy`);
    expect((await effective()).body).toMatchObject({ source: 'baseline', organizationId: null });

    const added = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'ACME.example' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({
      domain: 'acme.example',
      status: 'pending',
      verification: { type: 'dns-txt', name: '_gatehouse-challenge.acme.example', value: expect.stringMatching(/^[\w-]{32}$/) },
    });
    const token: string = added.body.verification.value;

    // A policy saved while pending is stored but not in force.
    const put = await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { password: { minLength: 12 } } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ active: false, policy: { password: { minLength: 12, maxLength: 24 } } });
    expect((await effective()).body.source).toBe('baseline');

    // No record yet: 422 telling what to create; the claim stays pending.
    const early = await h.api('POST', `/organizations/${orgId}/domains/acme.example/verify`);
    expect(early.status).toBe(422);
    expect(early.headers.get('content-type')).toContain('application/problem+json');
    expect(early.body.expected).toEqual({ type: 'dns-txt', name: '_gatehouse-challenge.acme.example', value: token });

    // Several records, the right one split into two character-strings.
    h.dns.txt.set('_gatehouse-challenge.acme.example', [['v=spf1 -all'], [token.slice(0, 10), token.slice(10)]]);
    const queriesBefore = h.dns.queries;
    const verified = await h.api('POST', `/organizations/${orgId}/domains/acme.example/verify`);
    expect(h.dns.queries).toBeGreaterThan(queriesBefore);
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ status: 'verified', verifiedAt: expect.any(String) });
    expect((await effective()).body).toMatchObject({
      source: 'organization',
      organizationId: orgId,
      domain: 'acme.example',
      policy: { password: { minLength: 12 } },
    });
    expect((await h.api('GET', `/organizations/${orgId}/security-policy`)).body.active).toBe(true);

    // The record goes away: the job counts failures and revokes after the configured number.
    h.dns.txt.delete('_gatehouse-challenge.acme.example');
    await makeDue();
    expect(await h.app.services.domains.reverifyDue()).toEqual({ checked: 1, revoked: [] });
    expect((await effective()).body.source).toBe('organization');
    await makeDue();
    expect(await h.app.services.domains.reverifyDue()).toEqual({ checked: 1, revoked: ['acme.example'] });
    expect((await effective()).body).toMatchObject({ source: 'baseline', policy: { password: { minLength: 8 } } });

    // Nothing was deleted: the stored policy is still there and returns with the domain.
    const stored = await h.api('GET', `/organizations/${orgId}/security-policy`);
    expect(stored.body).toMatchObject({ active: false, policy: { password: { minLength: 12 } } });
    h.dns.txt.set('_gatehouse-challenge.acme.example', [[token]]);
    expect((await h.api('POST', `/organizations/${orgId}/domains/acme.example/verify`)).body.status).toBe('verified');
    expect((await effective()).body).toMatchObject({ source: 'organization', policy: { password: { minLength: 12 } } });

    // DELETE revokes at once.
    const revoked = await h.api('DELETE', `/organizations/${orgId}/domains/acme.example`);
    expect(revoked.body).toMatchObject({ status: 'revoked', revokedReason: 'revoked-by-platform-admin' });
    expect((await effective()).body.source).toBe('baseline');

    const events = await h.api('GET', `/organizations/${orgId}/events?type=domain.verified,domain.revoked`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['domain.revoked', 'domain.verified', 'domain.revoked', 'domain.verified']);
  });

  it('a successful re-verification resets the failure count', async () => {
    const orgId = await newOrg('Steady');
    const { body } = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'steady.example' });
    h.dns.txt.set('_gatehouse-challenge.steady.example', [[body.verification.value]]);
    await h.api('POST', `/organizations/${orgId}/domains/steady.example/verify`);
    for (const present of [false, true, false, true]) {
      if (present) h.dns.txt.set('_gatehouse-challenge.steady.example', [[body.verification.value]]);
      else h.dns.txt.delete('_gatehouse-challenge.steady.example');
      await makeDue();
      await h.app.services.domains.reverifyDue();
    }
    expect((await h.api('GET', `/organizations/${orgId}/domains`)).body.items[0].status).toBe('verified');
  });

  it('a domain proven by a second organization is revoked for the first, whose policy stays stored', async () => {
    const first = await newOrg('First');
    const second = await newOrg('Second');
    const a = await h.api('POST', `/organizations/${first}/domains`, { domain: 'shared.example' });
    const b = await h.api('POST', `/organizations/${second}/domains`, { domain: 'shared.example' });
    await h.api('PUT', `/organizations/${first}/security-policy`, { policy: { password: { minLength: 10 } } });
    h.dns.txt.set('_gatehouse-challenge.shared.example', [[a.body.verification.value]]);
    expect((await h.api('POST', `/organizations/${first}/domains/shared.example/verify`)).body.status).toBe('verified');

    h.dns.txt.set('_gatehouse-challenge.shared.example', [[b.body.verification.value]]);
    expect((await h.api('POST', `/organizations/${second}/domains/shared.example/verify`)).body.status).toBe('verified');
    const firstClaims = (await h.api('GET', `/organizations/${first}/domains`)).body.items;
    expect(firstClaims[0]).toMatchObject({ status: 'revoked', revokedReason: 'claimed-by-another-organization' });
    expect((await h.api('GET', `/organizations/${first}/security-policy`)).body).toMatchObject({ active: false, policy: { password: { minLength: 10 } } });
    const user = await h.api('POST', '/users', { email: 'sam@shared.example', password: 'Pass-word-1' });
    expect((await h.api('GET', `/users/${user.body.id}/effective-policy`)).body.organizationId).toBe(second);
  });

  it('matches the whole record exactly, normalizes IDN and case, and refuses bad names', async () => {
    const orgId = await newOrg('Bücher');
    const added = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'Bücher.Example.' });
    expect(added.body.domain).toBe('xn--bcher-kva.example');
    const token = added.body.verification.value;
    h.dns.txt.set('_gatehouse-challenge.xn--bcher-kva.example', [[`${token} `], [`x${token}`], [token.toUpperCase()]]);
    expect((await h.api('POST', `/organizations/${orgId}/domains/bücher.example/verify`)).status).toBe(422);
    h.dns.txt.set('_gatehouse-challenge.xn--bcher-kva.example', [[token]]);
    expect((await h.api('POST', `/organizations/${orgId}/domains/xn--bcher-kva.example/verify`)).body.status).toBe('verified');

    for (const bad of ['', 'localhost', '127.0.0.1', 'a b.example', 'user@example.com', 'http://example.com']) {
      const res = await h.api('POST', `/organizations/${orgId}/domains`, { domain: bad });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'domain', message: expect.any(String) }]);
    }
    expect((await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'bücher.example' })).status).toBe(409);
  });

  it('times out cleanly when the DNS server does not answer', async () => {
    const orgId = await newOrg('Silent');
    await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'silent.example' });
    h.dns.silent.add('_gatehouse-challenge.silent.example');
    const res = await h.api('POST', `/organizations/${orgId}/domains/silent.example/verify`);
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/no answer within 500 ms/);
    expect((await h.api('GET', `/organizations/${orgId}/domains`)).body.items[0].status).toBe('pending');
  });

  it('lets the platform admin verify by hand', async () => {
    const orgId = await newOrg('Manual');
    await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'manual.example' });
    const res = await h.api('POST', `/organizations/${orgId}/domains/manual.example/verify`, { force: true });
    expect(res.body.status).toBe('verified');
    const events = await h.api('GET', `/organizations/${orgId}/events?type=domain.verified`);
    expect(events.body.items[0].data).toMatchObject({ method: 'manual' });
  });

  it('answers 404 for unknown organizations and claims', async () => {
    expect((await h.api('GET', '/organizations/nope')).status).toBe(404);
    const orgId = await newOrg('Empty');
    expect((await h.api('POST', `/organizations/${orgId}/domains/none.example/verify`)).status).toBe(404);
    expect((await h.api('DELETE', `/organizations/${orgId}/domains/none.example`)).status).toBe(404);
  });
});
