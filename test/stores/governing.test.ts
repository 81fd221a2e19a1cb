import { randomUUID } from 'node:crypto';
import { AccountStore } from '../../src/stores/sql/accounts.js';
import { DomainClaimStore } from '../../src/stores/sql/domain-claims.js';
import { BASELINE_SUBJECT, PolicyStore } from '../../src/stores/sql/policies.js';
import { migratedDb, sqlBackends } from '../helpers/backend.js';

/**
 * findAccount reads an account and what governs it in one statement (PolicyStore.accountWithGoverning,
 * and `governing` for a domain). Each must return exactly what the separate reads return: the account,
 * its domain's verified claim (never a pending or revoked one, never another domain's), that
 * organization's stored policy and the baseline's.
 */
for (const [name, makeBackend] of sqlBackends()) {
  describe(`the governing documents in one statement: ${name}`, () => {
    const database = migratedDb(makeBackend);
    const db = (table: string) => database()(table);
    let policies: PolicyStore;
    let accounts: AccountStore;
    let claims: DomainClaimStore;
    const orgA = randomUUID();
    const orgB = randomUUID();

    const account = async (email: string) => {
      const id = randomUUID();
      await db('accounts').insert({ id, email, email_domain: email.slice(email.indexOf('@') + 1), password_hash: 'x', password_changed_at: 1, created_at: 1, updated_at: 1, organization_id: orgB, org_role: 'member' });
      return id;
    };
    const claim = (organization_id: string, domain: string, status: string) =>
      db('domain_claims').insert({ id: randomUUID(), organization_id, domain, status, token: randomUUID(), created_at: 1, verified_at: status === 'verified' ? 2 : null });

    beforeAll(async () => {
      policies = new PolicyStore(database());
      accounts = new AccountStore(database());
      claims = new DomainClaimStore(database());
      await db('organizations').insert([orgA, orgB].map((id) => ({ id, name: id, created_at: 1, updated_at: 1 })));
      await claim(orgA, 'governed.example', 'verified');
      await claim(orgB, 'governed.example', 'revoked');
      await claim(orgB, 'pending.example', 'pending');
      await claim(orgB, 'nopolicy.example', 'verified');
      await policies.put(orgA, { password: { minLength: 12 } }, 1, 'test', 1);
      await policies.put(orgB, { password: { minLength: 14 } }, 1, 'test', 1);
    });
    it.each([
      ['a verified domain with a stored policy', 'ann@governed.example'],
      ['a verified domain whose organization stored no policy', 'bob@nopolicy.example'],
      ['a pending claim only', 'cy@pending.example'],
      ['no claim at all', 'dee@elsewhere.example'],
    ])('%s: the same as the separate reads, with and without a baseline', async (_what, email) => {
      const id = await account(email);
      const domain = email.slice(email.indexOf('@') + 1);
      for (const baseline of [undefined, { password: { minLength: 10 } }]) {
        if (baseline) await policies.put(BASELINE_SUBJECT, baseline, 1, 'test', 1);
        const claimed = await claims.findVerified(domain);
        const separate = {
          claim: claimed,
          organization: claimed ? await policies.get(claimed.organizationId) : undefined,
          baseline: await policies.get(BASELINE_SUBJECT),
        };
        expect(await policies.governing(domain)).toEqual(separate);
        expect(await policies.accountWithGoverning(id)).toEqual({ account: await accounts.findById(id), domain, governing: separate });
      }
      await db('security_policies').where({ subject: BASELINE_SUBJECT }).delete();
    });

    it('an unknown account is undefined', async () => {
      expect(await policies.accountWithGoverning(randomUUID())).toBeUndefined();
    });
  });
}
