import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/stores/db.js';
import { MembershipStore } from '../../src/stores/sql/memberships.js';
import { AuditStore, type AuditEventInput } from '../../src/stores/sql/audit.js';
import { migratedDb, sqlBackends } from '../helpers/backend.js';

/**
 * The two list queries rewritten for a million accounts (bench/scale.ts): an organization's reach
 * (members, or accounts on its verified domains) as one keyset branch per condition, and an audit
 * window (since and until) read through the time index. Both must return exactly what the plain
 * filters describe, in the same order, page after page.
 */
for (const [name, makeBackend] of sqlBackends()) {
  describe(`list queries: ${name}`, () => {
    const database = migratedDb(makeBackend);
    let db: Db;
    beforeAll(() => {
      db = database();
    });

    it("an organization's reach: its members and the accounts on its domains, each once, in id order, page after page", async () => {
      const org = randomUUID();
      const other = randomUUID();
      await db('organizations').insert([org, other].map((id) => ({ id, name: id, created_at: 1, updated_at: 1 })));
      const accounts: Array<{ id: string; email: string; organization_id: string | null }> = [];
      const add = async (domain: string, organizationId: string | null, n: number) => {
        for (let i = 0; i < n; i++) {
          const id = randomUUID();
          const email = `u${i}-${id.slice(0, 8)}@${domain}`;
          accounts.push({ id, email, organization_id: organizationId });
          await db('accounts').insert({
            id,
            email,
            email_domain: domain,
            organization_id: organizationId,
            org_role: organizationId ? 'member' : null,
            password_hash: 'x',
            password_changed_at: 1,
            created_at: 1,
            updated_at: 1,
          });
        }
      };
      await add('one.test', org, 4); // members on a claimed domain: both conditions
      await add('one.test', null, 3); // on a claimed domain only
      await add('two.test', null, 2); // on the other claimed domain
      await add('two.test', other, 2); // another organization's members on a claimed domain
      await add('elsewhere.test', org, 3); // members elsewhere
      await add('elsewhere.test', null, 5); // outside the reach
      await add('one.test.evil', null, 2); // a look-alike domain
      const store = new MembershipStore(db);
      const scope = { organizationId: org, domains: ['one.test', 'two.test'] };
      const expected = accounts
        .filter((a) => a.organization_id === org || a.email.endsWith('@one.test') || a.email.endsWith('@two.test'))
        .map((a) => a.id)
        .sort();
      expect(expected).toHaveLength(14);

      for (const limit of [1, 3, 5, 50]) {
        const seen: string[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await store.list({ scope, afterId, limit });
          seen.push(...page.map((m) => m.account.id));
          if (page.length < limit) break;
          afterId = page[page.length - 1]!.account.id;
        }
        expect(seen).toEqual(expected);
      }
      // Members only (no verified domain), and an exact email inside and outside the reach.
      expect((await store.list({ scope: { organizationId: org, domains: [] }, limit: 50 })).map((m) => m.account.id)).toEqual(
        accounts.filter((a) => a.organization_id === org).map((a) => a.id).sort(),
      );
      const inside = accounts.find((a) => a.email.endsWith('@two.test'))!;
      const outside = accounts.find((a) => a.email.endsWith('@elsewhere.test') && a.organization_id === null)!;
      expect((await store.list({ scope, email: inside.email, limit: 50 })).map((m) => m.account.id)).toEqual([inside.id]);
      expect(await store.list({ scope, email: outside.email, limit: 50 })).toEqual([]);
      // A member on a claimed domain is listed once with its membership.
      const both = accounts.find((a) => a.organization_id === org && a.email.endsWith('@one.test'))!;
      const [member] = await store.list({ scope, email: both.email, limit: 50 });
      expect(member).toEqual({ account: expect.objectContaining({ id: both.id, organizationId: org, orgRole: 'member' }), addedBy: null });
    });

    it('an audit window (since and until): exactly its events, newest first, with the other filters, page after page', async () => {
      const store = new AuditStore(db);
      const org = randomUUID();
      const event = (type: string, organizationId: string | null): AuditEventInput => ({
        type,
        actorType: 'system',
        actorId: null,
        organizationId,
        targetType: null,
        targetId: null,
        ip: null,
        userAgent: null,
        requestId: null,
        data: { n: 1 },
      });
      // Times not in id order (nodes' clocks differ): the window is by time, the order by id.
      const times = [5000, 1000, 3000, 2000, 4000, 3500, 2500, 1500, 4500, 6000, 2999, 3001];
      for (const [i, at] of times.entries()) await store.append(event(i % 3 === 0 ? 'user.created' : 'sign-in.succeeded', i % 2 === 0 ? org : null), at);
      const all = await store.list({ limit: 100 });
      const expected = (f: { organizationId?: string; types?: string[] }) =>
        all
          .filter((e) => Date.parse(e.at) >= 2000 && Date.parse(e.at) < 4500)
          .filter((e) => f.organizationId === undefined || e.organizationId === f.organizationId)
          .filter((e) => !f.types || f.types.includes(e.type))
          .map((e) => e.id);
      expect(expected({})).toHaveLength(7);
      for (const f of [{}, { organizationId: org }, { types: ['user.created'] }, { organizationId: org, types: ['sign-in.succeeded'] }]) {
        for (const limit of [1, 2, 50]) {
          const seen: string[] = [];
          let beforeId: number | undefined;
          for (;;) {
            const page = await store.list({ ...f, sinceMs: 2000, untilMs: 4500, beforeId, limit });
            seen.push(...page.map((e) => e.id));
            if (page.length < limit) break;
            beforeId = Number(page[page.length - 1]!.id);
          }
          expect(seen).toEqual(expected(f));
        }
      }
      const [first] = await store.list({ sinceMs: 2000, untilMs: 4500, limit: 1 });
      expect(first).toEqual(all.find((e) => e.id === first!.id));
      expect(first!.data).toEqual({ n: 1 });
    });
  });
}
