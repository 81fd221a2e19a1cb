import { randomUUID } from 'node:crypto';
import { adminRoutes } from '../../src/admin/routes/index.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';

/**
 * "Who may administer whom", end to end: every admin route × every principal × every kind of target
 * account, each call answered as the table says; a refused call changes nothing (the target's row, the
 * audit trail, reset links, claims, policies, organizations, clients and accounts are re-read and
 * compared). Then the attack chain of issue 7 item 1, the owner rules (item 2), and the audit trails.
 */

let h: AdminHarness;
const PASSWORD = 'Pass-word-1';
const orgs = { A: '', B: '', C: '' };

/** humanPlatform: a person with the platform-admin flag, signed in with a user token; answered exactly like platform (the bootstrap client). */
type Who = 'platform' | 'humanPlatform' | 'ownerA' | 'adminA' | 'memberA' | 'adminB';
const WHO: Who[] = ['platform', 'humanPlatform', 'ownerA', 'adminA', 'memberA', 'adminB'];
/** aDomain: on A's verified domain, a member A added itself; bDomain: on B's verified domain; baseline: on no verified domain; platformMember: on no verified domain, made a member of A by a platform admin. */
type Kind = 'aDomain' | 'bDomain' | 'baseline' | 'platformMember';
const KINDS: Kind[] = ['aDomain', 'bDomain', 'baseline', 'platformMember'];
const tokens = {} as Record<Who, string>;

interface Target {
  id: string;
  email: string;
  kind: Kind;
}
type Res = Awaited<ReturnType<AdminHarness['api']>>;

let serial = 0;
const next = () => ++serial;
const domainOf: Record<Kind, string> = { aDomain: 'a.test', bDomain: 'b.test', baseline: 'free.test', platformMember: 'free.test' };

/** Puts a domain under an organization through the real DNS server, and checks that it really is verified. */
async function verifyDomain(orgId: string, domain: string) {
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain });
  expect(claim.status).toBe(201);
  h.dns.txt.set(`_gatehouse-challenge.${domain}`, [[claim.body.verification.value]]);
  const verified = await h.api('POST', `/organizations/${orgId}/domains/${domain}/verify`);
  expect([verified.status, verified.body.status]).toEqual([200, 'verified']);
}

async function createUser(email: string, orgId?: string, role?: string): Promise<string> {
  const res = await h.api('POST', '/users', { email, password: PASSWORD });
  expect(res.status).toBe(201);
  if (orgId) expect((await h.api('POST', `/organizations/${orgId}/members`, { userId: res.body.id, role: role ?? 'member' })).status).toBe(200);
  return res.body.id;
}

/**
 * A target of the given kind, in a state every action visibly changes: locked after failed sign-ins
 * and with a second factor (arranged in the database; sign-ins would only slow the table down).
 */
async function makeTarget(kind: Kind): Promise<Target> {
  const email = `t${next()}@${domainOf[kind]}`;
  const id = await createUser(email);
  if (kind === 'aDomain') {
    expect((await h.api('POST', `/organizations/${orgs.A}/members`, { userId: id, role: 'member' }, tokens.ownerA)).status).toBe(200);
  }
  if (kind === 'platformMember') expect((await h.api('POST', `/organizations/${orgs.A}/members`, { userId: id, role: 'member' })).status).toBe(200);
  const now = Math.floor(Date.now() / 1000);
  await h.app.services.db('accounts').where({ id }).update({ failed_attempts: 5, locked_until: now + 3600 });
  await h.app.services.db('factors').insert({ id: randomUUID(), account_id: id, kind: 'totp', label: 'Authenticator app', created_at: now, secret: 'sealed' });
  await h.app.services.oidcStore.upsert('Session', randomUUID(), { accountId: id, loginTs: now, exp: now + 3600 }, 3600);
  return { id, email, kind };
}

/** Everything a refused call could have touched. */
async function snapshot(target?: Target) {
  const db = h.app.services.db;
  const count = async (table: string) => Number(((await db(table).count({ n: '*' }).first()) as { n: number | string }).n);
  return {
    row: target ? await db('accounts').where({ id: target.id }).first() : null,
    factors: target ? await db('factors').where({ account_id: target.id }).select('*').orderBy('id') : null,
    view: target ? (await h.api('GET', `/users/${target.id}`)).body : null,
    sessions: target ? (await h.api('GET', `/users/${target.id}/sessions`)).body : null,
    accounts: await count('accounts'),
    organizations: await count('organizations'),
    clients: await count('clients'),
    clientRows: await db('clients').select('*').orderBy('client_id'),
    events: await count('audit_events'),
    resetTokens: await count('password_reset_tokens'),
    claims: await db('domain_claims').select('*').orderBy('id'),
    policies: await db('security_policies').select('*').orderBy('subject'),
  };
}

/** Pages through a list route; true when `id` is on some page. */
async function listed(path: string, id: string, token: string): Promise<Res & { seen?: boolean }> {
  let cursor: string | null = null;
  let seen = false;
  let res: Res;
  do {
    res = await h.api('GET', `${path}${path.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${cursor}` : ''}`, undefined, token);
    if (res.status !== 200) return res;
    seen ||= res.body.items.some((u: { id?: string; userId?: string }) => (u.id ?? u.userId) === id);
    cursor = res.body.nextCursor;
  } while (cursor);
  return { ...res, seen };
}

type Want = number | 'seen' | 'unseen' | null; // null: does not apply
type PerTarget = [Want, Want, Want, Want]; // aDomain, bDomain, baseline, platformMember
interface Case {
  route: string;
  label?: string;
  /** Expected answer by principal: one for routes that are not about an account, else one per kind of target. */
  want: Record<Exclude<Who, 'humanPlatform'>, Want | PerTarget>;
  /** The target must be fresh (the call may change it). */
  fresh?: boolean;
  /** The call is about a kind of address, not an existing account (create). */
  kindOnly?: boolean;
  /** Puts the fresh target in the state the call changes, before the snapshot. */
  arrange?(t: Target): Promise<void>;
  /** Set-up before the call (a pending claim, a client); returns values for the call. */
  prepare?: () => Promise<Record<string, string>>;
  call(c: { token: string; target?: Target; kind?: Kind; n: number; prep: Record<string, string> }): Promise<Res & { seen?: boolean }>;
  /** For an allowed call: what must have changed. */
  effect?(c: { target?: Target; res: Res }): Promise<void>;
}

const all = (w: Want): PerTarget => [w, w, w, w];
const ONLY_PLATFORM = (ok: number): Case['want'] => ({ platform: ok, ownerA: 403, adminA: 403, memberA: 403, adminB: 403 });
const IN_A = (ok: number): Case['want'] => ({ platform: ok, ownerA: ok, adminA: ok, memberA: 403, adminB: 403 });
/** Reaching an account: A's owners and admins reach A's domain and the platform's members of A; B's admin reaches B's domain. */
const ON_ACCOUNT = (ok: number): Case['want'] => ({
  platform: all(ok),
  ownerA: [ok, 404, 404, ok],
  adminA: [ok, 404, 404, ok],
  memberA: all(403),
  adminB: [404, ok, 404, 404],
});
const userView = async (t: Target) => (await h.api('GET', `/users/${t.id}`)).body;

const cases: Case[] = [
  // Organizations and members
  { route: 'POST /organizations', want: ONLY_PLATFORM(201), call: ({ token, n }) => h.api('POST', '/organizations', { name: `Org ${n}` }, token) },
  {
    route: 'GET /organizations',
    label: 'is A listed',
    want: { platform: 'seen', ownerA: 'seen', adminA: 'seen', memberA: 403, adminB: 'unseen' },
    call: ({ token }) => listed('/organizations', orgs.A, token),
  },
  { route: 'GET /organizations/{orgId}', want: IN_A(200), call: ({ token }) => h.api('GET', `/organizations/${orgs.A}`, undefined, token) },
  {
    route: 'GET /organizations/{orgId}/members',
    want: { platform: ['seen', 'unseen', 'unseen', 'seen'], ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => listed(`/organizations/${orgs.A}/members`, target!.id, token),
  },
  {
    route: 'POST /organizations/{orgId}/members',
    fresh: true,
    want: { platform: all(200), ownerA: [200, 404, 404, 200], adminA: [200, 404, 404, 200], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => h.api('POST', `/organizations/${orgs.A}/members`, { userId: target!.id, role: 'admin' }, token),
    effect: async ({ target }) => expect(await userView(target!)).toMatchObject({ organizationId: orgs.A, role: 'admin' }),
  },
  {
    route: 'DELETE /organizations/{orgId}/members/{userId}',
    fresh: true,
    want: { platform: [204, 404, 404, 204], ownerA: [204, 404, 404, 204], adminA: [204, 404, 404, 204], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => h.api('DELETE', `/organizations/${orgs.A}/members/${target!.id}`, undefined, token),
    effect: async ({ target }) => expect(await userView(target!)).toMatchObject({ organizationId: null, role: null }),
  },
  // Domains
  { route: 'POST /organizations/{orgId}/domains', want: IN_A(201), call: ({ token, n }) => h.api('POST', `/organizations/${orgs.A}/domains`, { domain: `new${n}.test` }, token) },
  { route: 'GET /organizations/{orgId}/domains', want: IN_A(200), call: ({ token }) => h.api('GET', `/organizations/${orgs.A}/domains`, undefined, token) },
  {
    route: 'POST /organizations/{orgId}/domains/{domain}/verify',
    label: 'no TXT record: allowed callers get 422',
    want: IN_A(422),
    prepare: pendingClaim,
    call: ({ token, prep }) => h.api('POST', `/organizations/${orgs.A}/domains/${prep.domain}/verify`, undefined, token),
  },
  {
    route: 'POST /organizations/{orgId}/domains/{domain}/verify',
    label: 'force',
    want: ONLY_PLATFORM(200),
    prepare: pendingClaim,
    call: ({ token, prep }) => h.api('POST', `/organizations/${orgs.A}/domains/${prep.domain}/verify`, { force: true }, token),
  },
  {
    route: 'DELETE /organizations/{orgId}/domains/{domain}',
    want: IN_A(200),
    prepare: pendingClaim,
    call: ({ token, prep }) => h.api('DELETE', `/organizations/${orgs.A}/domains/${prep.domain}`, undefined, token),
  },
  // Security policy
  { route: 'GET /organizations/{orgId}/security-policy', want: IN_A(200), call: ({ token }) => h.api('GET', `/organizations/${orgs.A}/security-policy`, undefined, token) },
  { route: 'PUT /organizations/{orgId}/security-policy', want: IN_A(200), call: ({ token }) => h.api('PUT', `/organizations/${orgs.A}/security-policy`, { policy: {} }, token) },
  {
    route: 'PATCH /organizations/{orgId}/security-policy',
    want: IN_A(200),
    call: ({ token }) => h.api('PATCH', `/organizations/${orgs.A}/security-policy`, { policy: { password: { minLength: 8 } } }, token),
  },
  {
    route: 'POST /organizations/{orgId}/security-policy/preview',
    want: IN_A(200),
    call: ({ token }) => h.api('POST', `/organizations/${orgs.A}/security-policy/preview`, { policy: {} }, token),
  },
  { route: 'GET /baseline-policy', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('GET', '/baseline-policy', undefined, token) },
  { route: 'PUT /baseline-policy', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('PUT', '/baseline-policy', { policy: {} }, token) },
  // Users
  {
    route: 'POST /users',
    label: 'email on the target kind\'s domain, organizationId A',
    kindOnly: true,
    want: { platform: [201, 201, 201, null], ownerA: [201, 403, 403, null], adminA: [201, 403, 403, null], memberA: [403, 403, 403, null], adminB: [403, 403, 403, null] },
    call: ({ token, kind, n }) => h.api('POST', '/users', { email: `new${n}@${domainOf[kind!]}`, password: PASSWORD, organizationId: orgs.A }, token),
    effect: async ({ res }) => expect(res.body).toMatchObject({ organizationId: orgs.A, role: 'member' }),
  },
  {
    route: 'POST /users',
    label: 'no organizationId',
    want: { platform: 201, ownerA: 403, adminA: 403, memberA: 403, adminB: 403 },
    call: ({ token, n }) => h.api('POST', '/users', { email: `loose${n}@a.test`, password: PASSWORD }, token),
  },
  {
    route: 'GET /users',
    label: 'search by email',
    want: { platform: all('seen'), ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: ['unseen', 'seen', 'unseen', 'unseen'] },
    call: ({ token, target }) => listed(`/users?email=${encodeURIComponent(target!.email)}`, target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'the whole list',
    want: { platform: all('seen'), ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: ['unseen', 'seen', 'unseen', 'unseen'] },
    call: ({ token, target }) => listed('/users', target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'search: q and filters',
    want: { platform: all('seen'), ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: ['unseen', 'seen', 'unseen', 'unseen'] },
    // Every target is locked and has a second factor (makeTarget), so each is a match: only reach decides.
    call: ({ token, target }) => listed(`/users?q=${encodeURIComponent(target!.email.slice(0, 4).toUpperCase())}&locked=true&noSecondFactor=false&disabled=false`, target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'search within the members of A',
    want: { platform: ['seen', 'unseen', 'unseen', 'seen'], ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => listed(`/users?organizationId=${orgs.A}&q=${encodeURIComponent(target!.email)}&locked=true&passwordExpiring=false`, target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'members of A',
    want: { platform: ['seen', 'unseen', 'unseen', 'seen'], ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => listed(`/users?organizationId=${orgs.A}`, target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'reached by A',
    want: { platform: ['seen', 'unseen', 'unseen', 'seen'], ownerA: ['seen', 'unseen', 'unseen', 'seen'], adminA: ['seen', 'unseen', 'unseen', 'seen'], memberA: all(403), adminB: all(403) },
    call: ({ token, target }) => listed(`/users?reachedBy=${orgs.A}&locked=true`, target!.id, token),
  },
  {
    route: 'GET /users',
    label: 'reached by B (accounts on its domain, members or not)',
    want: { platform: ['unseen', 'seen', 'unseen', 'unseen'], ownerA: all(403), adminA: all(403), memberA: all(403), adminB: ['unseen', 'seen', 'unseen', 'unseen'] },
    call: ({ token, target }) => listed(`/users?reachedBy=${orgs.B}`, target!.id, token),
  },
  { route: 'GET /users/{userId}', want: ON_ACCOUNT(200), call: ({ token, target }) => h.api('GET', `/users/${target!.id}`, undefined, token) },
  {
    route: 'GET /users/{userId}/effective-policy',
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('GET', `/users/${target!.id}/effective-policy`, undefined, token),
  },
  {
    route: 'POST /users/{userId}/disable',
    fresh: true,
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/disable`, undefined, token),
    effect: async ({ target }) => expect((await userView(target!)).status).toBe('disabled'),
  },
  {
    route: 'POST /users/{userId}/enable',
    fresh: true,
    want: ON_ACCOUNT(200),
    arrange: async (t) => {
      await h.app.services.db('accounts').where({ id: t.id }).update({ status: 'disabled' });
    },
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/enable`, undefined, token),
    effect: async ({ target }) => expect((await userView(target!)).status).toBe('active'),
  },
  {
    route: 'POST /users/{userId}/unlock',
    fresh: true,
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/unlock`, undefined, token),
    effect: async ({ target }) => expect((await userView(target!)).lockedUntil).toBeNull(),
  },
  {
    route: 'POST /users/{userId}/reset-2fa',
    fresh: true,
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/reset-2fa`, undefined, token),
    effect: async ({ target }) => expect((await userView(target!)).twoFactorEnabled).toBe(false),
  },
  {
    route: 'GET /users/{userId}/sessions',
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('GET', `/users/${target!.id}/sessions`, undefined, token),
  },
  {
    route: 'POST /users/{userId}/end-sessions',
    fresh: true,
    want: ON_ACCOUNT(200),
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/end-sessions`, undefined, token),
    effect: async ({ target, res }) => {
      expect(res.body).toEqual({ endedSessions: 1, revokedGrants: 0 });
      expect((await h.api('GET', `/users/${target!.id}/sessions`)).body.sessions).toEqual([]);
    },
  },
  {
    route: 'POST /users/{userId}/password-reset',
    fresh: true,
    want: ON_ACCOUNT(202),
    call: ({ token, target }) => h.api('POST', `/users/${target!.id}/password-reset`, { requireChangeAtNextSignIn: true }, token),
    effect: async ({ target }) => expect((await userView(target!)).mustChangePassword).toBe(true),
  },
  // Clients and the audit trail
  {
    route: 'POST /clients',
    want: ONLY_PLATFORM(201),
    call: ({ token, n }) => h.api('POST', '/clients', { client_name: `App ${n}`, session_type: 'web', redirect_uris: ['https://app.example/cb'] }, token),
  },
  { route: 'GET /clients', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('GET', '/clients', undefined, token) },
  {
    route: 'POST /clients/{clientId}/secret',
    want: ONLY_PLATFORM(200),
    prepare: newClient,
    call: ({ token, prep }) => h.api('POST', `/clients/${prep.clientId}/secret`, undefined, token),
    effect: async ({ res }) => expect(res.body.client_secret).toEqual(expect.any(String)),
  },
  { route: 'GET /clients/{clientId}', want: ONLY_PLATFORM(200), prepare: newClient, call: ({ token, prep }) => h.api('GET', `/clients/${prep.clientId}`, undefined, token) },
  {
    route: 'PUT /clients/{clientId}',
    want: ONLY_PLATFORM(200),
    prepare: newClient,
    call: ({ token, prep }) => h.api('PUT', `/clients/${prep.clientId}`, { client_name: 'Renamed by the matrix', redirect_uris: ['https://matrix.example/cb'], post_logout_redirect_uris: [], third_party: false }, token),
    effect: async ({ res }) => expect(res.body.client_name).toBe('Renamed by the matrix'),
  },
  { route: 'DELETE /clients/{clientId}', want: ONLY_PLATFORM(204), prepare: newClient, call: ({ token, prep }) => h.api('DELETE', `/clients/${prep.clientId}`, undefined, token) },
  { route: 'GET /organizations/{orgId}/events', want: IN_A(200), call: ({ token }) => h.api('GET', `/organizations/${orgs.A}/events`, undefined, token) },
  { route: 'GET /events', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('GET', '/events', undefined, token) },
  // Signing keys
  { route: 'GET /keys', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('GET', '/keys', undefined, token) },
  { route: 'POST /keys/rotate', want: ONLY_PLATFORM(200), call: ({ token }) => h.api('POST', '/keys/rotate', undefined, token) },
];

async function pendingClaim() {
  const domain = `pending${next()}.test`;
  expect((await h.api('POST', `/organizations/${orgs.A}/domains`, { domain })).status).toBe(201);
  return { domain };
}
async function newClient() {
  const res = await h.api('POST', '/clients', { client_name: 'Victim app', session_type: 'web', redirect_uris: ['https://app.example/cb'] });
  expect(res.status).toBe(201);
  return { clientId: res.body.client_id as string };
}

const shared = {} as Record<Kind, Target>;

beforeAll(async () => {
  h = await startAdminHarness({ ACCESS_TOKEN_TTL_SECONDS: '3600', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  for (const name of ['A', 'B', 'C'] as const) {
    const res = await h.api('POST', '/organizations', { name });
    expect(res.status).toBe(201);
    orgs[name] = res.body.id;
  }
  await verifyDomain(orgs.A, 'a.test');
  await verifyDomain(orgs.B, 'b.test');
  await verifyDomain(orgs.C, 'c.test');
  const principals: Array<[Exclude<Who, 'platform'>, string, string, string]> = [
    ['ownerA', 'owner@a.test', orgs.A, 'owner'],
    ['adminA', 'admin@a.test', orgs.A, 'admin'],
    ['memberA', 'member@a.test', orgs.A, 'member'],
    ['adminB', 'admin@b.test', orgs.B, 'admin'],
  ];
  for (const [who, email, orgId, role] of principals) {
    const id = await createUser(email, orgId, role);
    // The verification took: the user is governed by their organization's policy.
    expect((await h.api('GET', `/users/${id}/effective-policy`)).body).toMatchObject({ source: 'organization', organizationId: orgId });
    tokens[who] = await h.userToken(email, PASSWORD);
  }
  tokens.platform = h.platformToken;
  await createUser('root@free.test');
  expect((await h.app.services.accounts.setPlatformAdmin('root@free.test', true)).changed).toBe(true);
  tokens.humanPlatform = await h.userToken('root@free.test', PASSWORD);
  for (const kind of KINDS) shared[kind] = await makeTarget(kind);
}, 120_000);
afterAll(() => h?.stop());

describe('who may administer whom: every admin route × principal × target', () => {
  it('the table covers every admin route', () => {
    expect([...new Set(cases.map((c) => c.route))].sort()).toEqual(adminRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort());
  });

  const cells = cases.flatMap((c) =>
    WHO.flatMap((who) => {
      const w = c.want[who === 'humanPlatform' ? 'platform' : who];
      if (!Array.isArray(w)) return [{ c, who, kind: undefined as Kind | undefined, want: w }];
      return KINDS.map((kind, i) => ({ c, who, kind: kind as Kind | undefined, want: w[i]! })).filter((x) => x.want !== null);
    }),
  );

  it.each(cells.map((x) => [`${x.c.route}${x.c.label ? ` (${x.c.label})` : ''}`, x.who, x.kind ?? '-', x.want, x] as const))(
    '%s by %s on %s → %s',
    async (_route, who, _kind, want, { c, kind }) => {
      const target = kind && !c.kindOnly ? (c.fresh ? await makeTarget(kind) : shared[kind]) : undefined;
      if (target && c.arrange) await c.arrange(target);
      const prep = c.prepare ? await c.prepare() : {};
      const before = await snapshot(target);
      const res = await c.call({ token: tokens[who], target, kind, n: next(), prep });
      const got = res.seen === undefined ? res.status : res.seen ? 'seen' : 'unseen';
      expect({ got, body: got === want ? undefined : res.body }).toEqual({ got: want, body: undefined });
      if (typeof got === 'number' && got >= 400 && got !== 422) {
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        // Refused: nothing changed, the target least of all.
        expect(await snapshot(target)).toEqual(before);
      } else if (c.effect) {
        await c.effect({ target, res });
      }
    },
  );
});

describe('the attack chain of issue 7, item 1', () => {
  it('an admin of A cannot make a baseline user or a user on B\'s domain a member, nor then act on them', async () => {
    for (const kind of ['baseline', 'bDomain'] as const) {
      const victim = await makeTarget(kind);
      const before = await snapshot(victim);
      const attempts: Array<[string, string, unknown?]> = [
        ['POST', `/organizations/${orgs.A}/members`, { userId: victim.id }],
        ['POST', `/organizations/${orgs.A}/members`, { userId: victim.id, role: 'owner' }],
        ['GET', `/users/${victim.id}`],
        ['POST', `/users/${victim.id}/password-reset`, { requireChangeAtNextSignIn: true }],
        ['POST', `/users/${victim.id}/disable`],
        ['POST', `/users/${victim.id}/unlock`],
        ['POST', `/users/${victim.id}/reset-2fa`],
        ['POST', `/users/${victim.id}/end-sessions`],
        ['GET', `/users/${victim.id}/sessions`],
        ['DELETE', `/organizations/${orgs.A}/members/${victim.id}`],
      ];
      const nobody = '00000000-0000-0000-0000-000000000000';
      for (const [method, path, body] of attempts) {
        const ghostBody = body && typeof body === 'object' && 'userId' in body ? { ...body, userId: nobody } : body;
        for (const who of ['adminA', 'ownerA'] as const) {
          const res = await h.api(method, path, body, tokens[who]);
          // Exactly the answer for an account that does not exist: the attacker learns nothing.
          const ghost = await h.api(method, path.replace(victim.id, nobody), ghostBody, tokens[who]);
          expect([kind, who, method, path, res.status, res.body.detail]).toEqual([kind, who, method, path, 404, ghost.body.detail]);
          expect(ghost.status).toBe(404);
        }
      }
      expect(await snapshot(victim)).toEqual(before);
    }
  });

  it('an admin of A cannot create an account on B\'s domain; the real person can then still be created by B, or by the platform', async () => {
    const before = await snapshot();
    const res = await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD, organizationId: orgs.A }, tokens.adminA);
    expect(res.status).toBe(403);
    expect(res.body.detail).toContain('verified domains');
    // Nor on a baseline domain, nor by leaving out the organization.
    expect((await h.api('POST', '/users', { email: 'ceo@free.test', password: PASSWORD, organizationId: orgs.A }, tokens.adminA)).status).toBe(403);
    expect((await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD }, tokens.adminA)).status).toBe(403);
    // An admin of B cannot create in A, even on B's domain.
    expect((await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD, organizationId: orgs.A }, tokens.adminB)).status).toBe(403);
    expect(await snapshot()).toEqual(before);

    const real = await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD, organizationId: orgs.B }, tokens.adminB);
    expect(real.status).toBe(201);
    expect(real.body).toMatchObject({ email: 'ceo@b.test', organizationId: orgs.B, role: 'member' });
    expect((await h.api('POST', '/users', { email: 'cfo@b.test', password: PASSWORD })).status).toBe(201);
    // Taken addresses are told only to those who may create there.
    expect((await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD, organizationId: orgs.A }, tokens.adminA)).status).toBe(403);
    expect((await h.api('POST', '/users', { email: 'ceo@b.test', password: PASSWORD, organizationId: orgs.B }, tokens.adminB)).status).toBe(409);
  });

  it('an admin of A adds and creates accounts on A\'s verified domain; they leave A\'s reach when the domain stops being verified, a platform-added member does not', async () => {
    await verifyDomain(orgs.A, 'a2.test');
    const created = await h.api('POST', '/users', { email: 'made@a2.test', password: PASSWORD, organizationId: orgs.A }, tokens.adminA);
    expect(created.status).toBe(201);
    const loose = await createUser('loose@a2.test');
    expect((await h.api('POST', `/organizations/${orgs.A}/members`, { userId: loose }, tokens.adminA)).status).toBe(200);
    const byPlatform = await createUser('kept@a2.test', orgs.A);
    for (const id of [created.body.id, loose, byPlatform]) expect((await h.api('GET', `/users/${id}`, undefined, tokens.adminA)).status).toBe(200);

    expect((await h.api('DELETE', `/organizations/${orgs.A}/domains/a2.test`)).status).toBe(200);
    for (const id of [created.body.id, loose]) {
      expect((await h.api('GET', `/users/${id}`, undefined, tokens.adminA)).status).toBe(404);
      expect((await h.api('POST', `/users/${id}/disable`, undefined, tokens.adminA)).status).toBe(404);
      expect((await listed(`/organizations/${orgs.A}/members`, id, tokens.adminA)).seen).toBe(false);
    }
    expect((await h.api('GET', `/users/${byPlatform}`, undefined, tokens.adminA)).status).toBe(200);
    expect((await listed(`/organizations/${orgs.A}/members`, byPlatform, tokens.adminA)).seen).toBe(true);
  });

  it('a user on B\'s domain whom a platform admin made a member of A stays B\'s: A cannot see or touch them; both trails record the membership', async () => {
    const id = await createUser('consultant@b.test');
    expect((await h.api('POST', `/organizations/${orgs.A}/members`, { userId: id, role: 'admin' })).status).toBe(200);
    expect((await h.api('GET', `/users/${id}`, undefined, tokens.adminA)).status).toBe(404);
    expect((await h.api('POST', `/users/${id}/disable`, undefined, tokens.ownerA)).status).toBe(404);
    expect((await h.api('DELETE', `/organizations/${orgs.A}/members/${id}`, undefined, tokens.ownerA)).status).toBe(404);
    expect((await listed(`/organizations/${orgs.A}/members`, id, tokens.ownerA)).seen).toBe(false);
    expect((await listed('/users', id, tokens.ownerA)).seen).toBe(false);
    expect((await h.api('GET', `/users/${id}`, undefined, tokens.adminB)).status).toBe(200);
    for (const org of [orgs.A, orgs.B]) {
      const events = (await h.api('GET', `/organizations/${org}/events?type=organization.member_set&limit=1`)).body.items;
      expect(events[0]).toMatchObject({ targetId: id, actorType: 'client', data: { after: { role: 'admin' }, addedBy: 'platform' } });
    }
  });

  it('events about a user go to the trail of the organization whose policy governs them, not to the one they were added to', async () => {
    const id = await createUser('auditee@b.test', orgs.A);
    expect((await h.api('POST', `/users/${id}/disable`)).status).toBe(200);
    const inB = (await h.api('GET', `/organizations/${orgs.B}/events?type=user.disabled&limit=1`)).body.items[0];
    expect(inB).toMatchObject({ targetId: id, organizationId: orgs.B });
    const inA = (await h.api('GET', `/organizations/${orgs.A}/events?type=user.disabled&limit=200`)).body.items;
    expect(inA.filter((e: { targetId: string }) => e.targetId === id)).toEqual([]);
  });
});

describe('owners (issue 7, item 2)', () => {
  const c = { owner: '', owner2: '', admin: '', ownerToken: '', owner2Token: '', adminToken: '' };
  beforeAll(async () => {
    c.owner = await createUser('owner@c.test', orgs.C, 'owner');
    c.admin = await createUser('admin@c.test', orgs.C, 'admin');
    c.ownerToken = await h.userToken('owner@c.test', PASSWORD);
    c.adminToken = await h.userToken('admin@c.test', PASSWORD);
  });

  it('an admin cannot make, demote, disable, reset, unlock, sign out or remove an owner; nothing changes', async () => {
    const candidate = await createUser('candidate@c.test', orgs.C);
    const before = await snapshot({ id: c.owner, email: 'owner@c.test', kind: 'aDomain' });
    const candidateBefore = await snapshot({ id: candidate, email: 'candidate@c.test', kind: 'aDomain' });
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', `/organizations/${orgs.C}/members`, { userId: candidate, role: 'owner' }],
      ['POST', `/organizations/${orgs.C}/members`, { userId: c.owner, role: 'admin' }],
      ['POST', `/organizations/${orgs.C}/members`, { userId: c.owner, role: 'member' }],
      ['POST', `/users/${c.owner}/disable`],
      ['POST', `/users/${c.owner}/enable`],
      ['POST', `/users/${c.owner}/password-reset`, { requireChangeAtNextSignIn: true }],
      ['POST', `/users/${c.owner}/reset-2fa`],
      ['POST', `/users/${c.owner}/unlock`],
      ['POST', `/users/${c.owner}/end-sessions`],
      ['DELETE', `/organizations/${orgs.C}/members/${c.owner}`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await h.api(method, path, body, c.adminToken);
      expect([method, path, res.status, res.body.detail]).toEqual([method, path, 403, expect.stringContaining('only an owner')]);
    }
    expect(await snapshot({ id: c.owner, email: 'owner@c.test', kind: 'aDomain' })).toEqual(before);
    expect((await snapshot({ id: candidate, email: 'candidate@c.test', kind: 'aDomain' })).row).toEqual(candidateBefore.row);
    // Reading an owner is fine.
    expect((await h.api('GET', `/users/${c.owner}`, undefined, c.adminToken)).status).toBe(200);
  });

  it('the last owner can be neither removed nor demoted, by anyone', async () => {
    for (const token of [c.ownerToken, h.platformToken]) {
      const demote = await h.api('POST', `/organizations/${orgs.C}/members`, { userId: c.owner, role: 'admin' }, token);
      expect([demote.status, demote.body.detail]).toEqual([409, expect.stringContaining('last owner')]);
      const remove = await h.api('DELETE', `/organizations/${orgs.C}/members/${c.owner}`, undefined, token);
      expect([remove.status, remove.body.detail]).toEqual([409, expect.stringContaining('last owner')]);
    }
    expect((await h.api('GET', `/users/${c.owner}`)).body).toMatchObject({ organizationId: orgs.C, role: 'owner' });
  });

  it('an owner makes another owner, who may then act on owners; the last one still stays', async () => {
    expect((await h.api('POST', `/organizations/${orgs.C}/members`, { userId: c.admin, role: 'owner' }, c.ownerToken)).status).toBe(200);
    // c.admin is now an owner: their (unchanged) token reads the role afresh.
    expect((await h.api('POST', `/users/${c.owner}/unlock`, undefined, c.adminToken)).status).toBe(200);
    expect((await h.api('POST', `/organizations/${orgs.C}/members`, { userId: c.owner, role: 'admin' }, c.adminToken)).status).toBe(200);
    expect((await h.api('DELETE', `/organizations/${orgs.C}/members/${c.admin}`, undefined, c.adminToken)).status).toBe(409);
    expect((await h.api('GET', `/users/${c.admin}`)).body).toMatchObject({ organizationId: orgs.C, role: 'owner' });
  });

  it('two owners removed at the same moment: exactly one goes, the organization keeps an owner', async () => {
    const x = await createUser('x@c.test', orgs.C, 'owner');
    const owners = async () => Number(((await h.app.services.db('accounts').where({ organization_id: orgs.C, org_role: 'owner' }).count({ n: '*' }).first()) as { n: number }).n);
    expect(await owners()).toBe(2);
    const results = await Promise.all([x, c.admin].map((id) => h.api('DELETE', `/organizations/${orgs.C}/members/${id}`)));
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
    expect(await owners()).toBe(1);
  });
});

describe('a person as platform administrator', () => {
  it('acts as the platform with themself as the actor; a revoked flag or a disabled account stops the very next call', async () => {
    const id = await createUser(`person${next()}@free.test`);
    const email = (await h.api('GET', `/users/${id}`)).body.email as string;
    const token = await h.userToken(email, PASSWORD);
    // Before the flag: a user in no organization administers nothing.
    expect((await h.api('POST', '/organizations', { name: 'Too early' }, token)).status).toBe(403);

    expect((await h.app.services.accounts.setPlatformAdmin(email, true)).changed).toBe(true);
    expect((await h.api('GET', `/users/${id}`)).body.platformAdmin).toBe(true);
    // The same token, no new sign-in: the flag is read on every request.
    const created = await h.api('POST', '/organizations', { name: `By a person ${next()}` }, token);
    expect(created.status).toBe(201);
    const events = (await h.api('GET', '/events?type=organization.created&limit=1')).body.items;
    expect(events[0]).toMatchObject({ actorType: 'user', actorId: id });

    expect((await h.app.services.accounts.setPlatformAdmin(email, false)).changed).toBe(true);
    expect((await h.api('POST', '/organizations', { name: 'Too late' }, token)).status).toBe(403);
    expect((await h.api('GET', '/baseline-policy', undefined, token)).status).toBe(403);

    await h.app.services.accounts.setPlatformAdmin(email, true);
    expect((await h.api('GET', '/baseline-policy', undefined, token)).status).toBe(200);
    expect((await h.api('POST', `/users/${id}/disable`)).status).toBe(200);
    expect((await h.api('GET', '/baseline-policy', undefined, token)).status).toBe(401);
  });

  it('the admin API offers no way to set the flag', async () => {
    const res = await h.api('POST', '/users', { email: `sneaky${next()}@free.test`, password: PASSWORD, platformAdmin: true }, tokens.humanPlatform);
    expect([res.status, res.headers.get('content-type')]).toEqual([400, expect.stringContaining('application/problem+json')]);
  });
});
