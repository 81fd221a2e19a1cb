/**
 * `npm run bench:scale` (PostgreSQL only; REDIS_URL optional): does Gatehouse stay as fast with a million
 * accounts as with a thousand?
 *
 * Seeds two fresh schemas with set-based SQL (INSERT … SELECT generate_series): one with SCALE_SMALL
 * accounts (1,000) and one with SCALE_LARGE (1,000,000), each with organizations (one per 500 accounts),
 * one verified domain claim and a security policy per organization, password history, TOTP factors,
 * recovery codes and passkeys for some accounts, and SCALE_AUDIT_PER_ACCOUNT (3) audit events per
 * account. Then starts one Gatehouse process per schema and measures both in alternating slices (same
 * client code): full sign-ins, refresh-token grants, and the admin API's user list (first page, exact
 * email, an organization's members, a page deep into the list, an organization admin's view) and audit
 * trail (by organization, by organization within a time window, by type). Each request that a workload
 * makes is also run once in-process against the large schema with every SQL statement captured, and
 * each statement is run again under EXPLAIN (ANALYZE, BUFFERS) (writes inside a rolled-back
 * transaction); statements whose plans scan a large table sequentially or filter out many rows are flagged.
 * With REDIS_URL it also measures the Redis memory per session and per refresh token: SCALE_REDIS_SESSIONS
 * sign-ins on a fresh key prefix, MEMORY USAGE summed per key kind, and INFO used_memory before and after.
 *
 * Prints tables and writes bench/results/scale.json and bench/results/scale-explain.txt. BENCH_SECONDS
 * (per workload and size, 10), BENCH_SLICE_SECONDS (5), BENCH_CONNECTIONS (8, sign-in and refresh; admin
 * workloads use 4), SCALE_KEEP=1 keeps the schemas and Redis keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { loadConfig, type AppConfig } from '../src/config/index.js';
import { openServices } from '../src/services/index.js';
import { createApp } from '../src/app.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { CALLBACK, PASSWORD, freePort, loopSlice, merge, removeBenchData, signIn, waitHealthy, type Row, type Slice } from './common.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SLICE = Number(process.env.BENCH_SLICE_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const ADMIN_CONNECTIONS = 4;
const SMALL = Number(process.env.SCALE_SMALL ?? 1000);
const LARGE = Number(process.env.SCALE_LARGE ?? 1_000_000);
const AUDIT_PER_ACCOUNT = Number(process.env.SCALE_AUDIT_PER_ACCOUNT ?? 3);
const REDIS_SESSIONS = Number(process.env.SCALE_REDIS_SESSIONS ?? 1000);
const KEEP = process.env.SCALE_KEEP === '1';
const BOOTSTRAP_ID = 'bench-platform-admin';
const BOOTSTRAP_SECRET = 'bench-bootstrap-secret-0123456789abcdef0123';
const DAY_MS = 86_400_000;

const FIRST = ['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen', 'Wei', 'Fatima', 'Amit', 'Yuki', 'Olga', 'Ahmed', 'Chloé', 'Lars', 'Ingrid', 'Mateo', 'Sofia', 'Noah', 'Emma', 'Liam', 'Ava', 'Lucas', 'Mia', 'Hiroshi', 'Priya', 'Jonas'];
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Müller', 'Schmidt', 'Kowalski', 'Rossi', 'Dubois', 'Tanaka', 'Kim', 'Singh', 'Ivanova', 'Larsen'];
const WORDS = ['acme', 'globex', 'initech', 'umbrella', 'stark', 'wayne', 'hooli', 'vandelay', 'wonka', 'cyberdyne', 'soylent', 'tyrell', 'aperture', 'oscorp', 'massive', 'gringotts', 'monarch', 'pied-piper', 'dunder', 'nakatomi'];
const PUBLIC_DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'proton.me', 'hotmail.com', 'gmx.de', 'web.de'];
const AUDIT_TYPES = ['sign-in.succeeded', 'sign-in.failed', 'token.refreshed', 'session.ended', 'user.created', 'member.added', 'policy.updated', 'user.password_changed'];

const sqlArray = (xs: string[]) => `array[${xs.map((x) => `'${x.replace(/'/g, "''")}'`).join(',')}]`;
/** SQL for organization k's id and its (verified) email domain; the same expressions everywhere. */
const orgId = (k: string) => `md5('org' || ${k})::uuid::text`;
const orgDomain = (k: string) => `(${sqlArray(WORDS)})[1 + ${k} % ${WORDS.length}] || '-' || ${k} || '.test'`;
const accountId = (n: string) => `md5('acct' || ${n})::uuid::text`;

interface Seeded {
  size: number;
  schema: string;
  config: AppConfig;
  env: Record<string, string>;
  clientId: string;
  clientSecret: string;
  counts: Record<string, number>;
  seconds: number;
  /** Active accounts without a second factor (the sign-in workload's), by email. */
  signable: string[];
  randomEmails: string[];
  bigOrg: string;
  smallOrg: string;
  orgAdminEmail: string;
  bigOrgAdminEmail: string;
  deepCursor: string;
  bigOrgDeepCursor: string;
  windowSinceIso: string;
  windowUntilIso: string;
}

function environment(tag: string, port: number): Record<string, string> {
  const base = `http://127.0.0.1:${port}`;
  return {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: base,
    LOG_LEVEL: 'warn',
    DATABASE_SCHEMA: `gh_${tag}`,
    ...(process.env.REDIS_URL ? { REDIS_KEY_PREFIX: `gh:${tag}:` } : {}),
    GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
    // No real DNS lookups for the seeded .test domains (their re-verification is not due anyway).
    DNS_SERVERS: '127.0.0.1:9',
  };
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const result = await work();
  console.log(`  ${label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return result;
}

async function seed(size: number, tag: string): Promise<Seeded> {
  const started = performance.now();
  const port = await freePort();
  const env = environment(tag, port);
  const config = loadConfig(env);
  console.log(`seeding ${size.toLocaleString('en')} accounts into schema ${config.database.kind === 'postgres' ? config.database.schema : '?'}`);
  const services = await openServices(config);
  try {
    const db = services.db;
    const template = (await services.accounts.create({ email: `template-${tag}@bench.test`, password: PASSWORD }))!;
    const hash = (await db('accounts').where({ id: template.id }).first('password_hash')).password_hash as string;
    await db('password_history').where({ account_id: template.id }).delete();
    await db('accounts').where({ id: template.id }).delete();
    const { client, clientSecret } = await services.clients.create({ clientName: 'Bench', sessionType: 'web', redirectUris: [CALLBACK] });

    const orgs = Math.max(2, Math.round(size / 500));
    const now = Math.floor(Date.now() / 1000);
    const nowMs = Date.now();
    const audit = size * AUDIT_PER_ACCOUNT;
    await db.raw('SELECT setseed(0.42)');
    await timed(`${orgs} organizations, verified domain claims`, async () => {
      await db.raw(
        `INSERT INTO organizations (id, name, created_at, updated_at)
         SELECT ${orgId('k')}, initcap(replace((${sqlArray(WORDS)})[1 + k % ${WORDS.length}], '-', ' ')) || ' ' || k, ? - k, ? - k
         FROM generate_series(1, ?) k`,
        [now, now, orgs],
      );
      await db.raw(
        `INSERT INTO domain_claims (id, organization_id, domain, status, token, created_at, verified_at, last_checked_at, consecutive_failures)
         SELECT md5('claim' || k)::uuid::text, ${orgId('k')}, ${orgDomain('k')}, 'verified', md5('token' || k), ? - 86400, ? - 86000, ?, 0
         FROM generate_series(1, ?) k`,
        [now, now, now, orgs],
      );
    });
    // 60% of the accounts belong to an organization (on its domain), skewed: a few large organizations, many small.
    await timed(`${size.toLocaleString('en')} accounts`, () =>
      db.raw(
        `INSERT INTO accounts (id, email, name, password_hash, status, password_changed_at, created_at, updated_at, email_domain,
           organization_id, org_role, membership_added_by, email_verified_at, must_change_password, failed_attempts, totp_generation)
         SELECT ${accountId('n')}, lower(f) || '.' || lower(l) || n || '@' || d, f || ' ' || l, ?, CASE WHEN n % 97 = 0 THEN 'disabled' ELSE 'active' END,
           ? - n % 2000000, ? - n % 20000000, ? - n % 2000000, d,
           CASE WHEN k IS NOT NULL THEN ${orgId('k')} END, CASE WHEN k IS NULL THEN NULL WHEN n % 50 = 0 THEN 'admin' ELSE 'member' END,
           CASE WHEN k IS NOT NULL THEN 'organization' END, CASE WHEN n % 3 = 0 THEN NULL ELSE ? - n % 20000000 END, false, 0, CASE WHEN n % 20 = 7 THEN 1 ELSE 0 END
         FROM (
           SELECT n, f, l, k, CASE WHEN k IS NULL THEN (${sqlArray(PUBLIC_DOMAINS)})[1 + n % ${PUBLIC_DOMAINS.length}] ELSE ${orgDomain('k')} END AS d
           FROM (
             SELECT n, (${sqlArray(FIRST)})[1 + (n * 7) % ${FIRST.length}] AS f, (${sqlArray(LAST)})[1 + (n * 13) % ${LAST.length}] AS l,
               CASE WHEN n % 10 < 6 THEN 1 + floor(? * power(random(), 2))::int END AS k
             FROM generate_series(1, ?) n
           ) a
         ) b`,
        [hash, now, now, now, now, orgs, size],
      ),
    );
    await timed('an owner per organization', () =>
      db.raw(
        `UPDATE accounts SET org_role = 'owner' WHERE id IN (
           SELECT DISTINCT ON (organization_id) id FROM accounts WHERE organization_id IS NOT NULL ORDER BY organization_id, id)`,
      ),
    );
    await timed('password history (current + 2 older for 10%)', async () => {
      await db.raw('INSERT INTO password_history (account_id, password_hash, created_at) SELECT id, password_hash, password_changed_at FROM accounts');
      await db.raw(
        `INSERT INTO password_history (account_id, password_hash, created_at)
         SELECT ${accountId('n')}, ?, ? - 90 * 86400 * g FROM generate_series(1, ?) n, generate_series(1, 2) g WHERE n % 10 = 0`,
        [hash, now, size],
      );
    });
    await timed('factors (TOTP for 5%, passkeys for 2%) and recovery codes', async () => {
      await db.raw(
        `INSERT INTO factors (id, account_id, kind, label, created_at, secret, last_step)
         SELECT md5('totp' || n)::uuid::text, ${accountId('n')}, 'totp', 'Authenticator app', ? - n % 1000000, 'sealed:' || md5('s' || n), NULL
         FROM generate_series(1, ?) n WHERE n % 20 = 7`,
        [now, size],
      );
      await db.raw(
        `INSERT INTO factors (id, account_id, kind, label, created_at, credential_id, public_key, sign_count, transports, device_type, backed_up, aaguid, user_verified)
         SELECT md5('pk' || n)::uuid::text, ${accountId('n')}, 'passkey', 'Passkey', ? - n % 1000000, md5('cred' || n) || md5('cred2' || n),
           repeat(md5('key' || n), 4), 0, '["internal","hybrid"]', 'multiDevice', true, '00000000-0000-0000-0000-000000000000', true
         FROM generate_series(1, ?) n WHERE n % 50 = 3`,
        [now, size],
      );
      await db.raw(
        `INSERT INTO recovery_codes (account_id, code_hash, used_at)
         SELECT ${accountId('n')}, encode(sha256((n || ':' || c)::bytea), 'hex'), NULL FROM generate_series(1, ?) n, generate_series(1, 10) c WHERE n % 20 = 7`,
        [size],
      );
    });
    await timed('a security policy per organization', async () => {
      const first = (await db('organizations').orderBy('id').first('id')).id as string;
      await services.policies.update(first, 'merge', { password: { historyCount: 5, minLength: 10 } }, {
        actor: { type: 'system', id: 'bench' },
        request: { ip: null, userAgent: null },
      } as never);
      await db.raw(
        `INSERT INTO security_policies (subject, policy, updated_at, updated_by, schema_version)
         SELECT o.id, p.policy, p.updated_at, p.updated_by, p.schema_version FROM organizations o, security_policies p WHERE p.subject = ? AND o.id <> ?`,
        [first, first],
      );
    });
    // Spread over the past year, oldest first (ids grow with time, as the trail does).
    await timed(`${audit.toLocaleString('en')} audit events`, () =>
      db.raw(
        `INSERT INTO audit_events (at_ms, type, actor_type, actor_id, organization_id, target_type, target_id, ip, user_agent, data, request_id)
         SELECT ? - ?::bigint * 365 * ${DAY_MS} / ? * (? - i), (${sqlArray(AUDIT_TYPES)})[1 + (i::bigint * 7) % ${AUDIT_TYPES.length}], 'user', ${accountId('(1 + (i::bigint * 7919) % ?)')},
           CASE WHEN i % 3 < 2 THEN ${orgId('(1 + floor(? * power(random(), 2))::int)')} END, 'user', ${accountId('(1 + (i::bigint * 7919) % ?)')},
           '203.0.113.' || i % 250, 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
           '{"clientId":"web","method":"password"}', md5('req' || i)
         FROM generate_series(1, ?) i`,
        [nowMs, 1, audit, audit, size, orgs, size, audit],
      ),
    );
    // As autovacuum would leave them: statistics, and visibility maps for index-only scans.
    await timed('VACUUM ANALYZE', () => db.raw('VACUUM ANALYZE'));

    const counts: Record<string, number> = {};
    for (const table of ['accounts', 'organizations', 'domain_claims', 'security_policies', 'password_history', 'factors', 'recovery_codes', 'audit_events']) {
      counts[table] = Number((await db(table).count({ n: '*' }).first())!.n);
    }
    const signable = (
      await db.raw(
        `SELECT email FROM accounts a WHERE status = 'active' AND org_role IS DISTINCT FROM 'admin' AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.account_id = a.id)
         ORDER BY md5(id) LIMIT 256`,
      )
    ).rows.map((r: { email: string }) => r.email);
    const randomEmails = (await db.raw('SELECT email FROM accounts ORDER BY md5(id || \'x\') LIMIT 256')).rows.map((r: { email: string }) => r.email);
    const bigOrg = (await db.raw(`SELECT ${orgId('1')} AS id`)).rows[0].id as string;
    const smallOrg = (await db.raw(`SELECT ${orgId('?')} AS id`, [orgs])).rows[0].id as string;
    const midOrg = (await db.raw(`SELECT ${orgId('?')} AS id`, [Math.ceil(orgs / 2)])).rows[0].id as string;
    // Two different accounts (with two organizations, the largest is also the middle one): signing one
    // account in twice would end its first session, and the first admin token with it.
    const adminOf = async (org: string, not = '') => {
      const a = (
        await db.raw(
          `SELECT id, email FROM accounts a WHERE organization_id = ? AND id <> ? AND status = 'active' AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.account_id = a.id) ORDER BY id LIMIT 1`,
          [org, not],
        )
      ).rows[0] as { id: string; email: string };
      await db('accounts').where({ id: a.id }).update({ org_role: 'admin' });
      return a;
    };
    const admin = await adminOf(midOrg);
    const bigAdmin = await adminOf(bigOrg, admin.id);
    // The admins' tokens must outlive the sign-in workload (which ends other sessions of the account it signs in).
    signable.splice(0, signable.length, ...signable.filter((e: string) => e !== admin.email && e !== bigAdmin.email));
    const bigOrgSize = Number((await db('accounts').where({ organization_id: bigOrg }).count({ n: '*' }).first())!.n);
    const bigOrgDeepCursor = (await db.raw('SELECT id FROM accounts WHERE organization_id = ? ORDER BY id OFFSET ? LIMIT 1', [bigOrg, Math.floor(bigOrgSize * 0.9)])).rows[0]
      .id as string;
    const deepCursor = (await db.raw('SELECT id FROM accounts ORDER BY id OFFSET ? LIMIT 1', [Math.floor(size * 0.9)])).rows[0].id as string;
    const seconds = (performance.now() - started) / 1000;
    console.log(`  seeded in ${seconds.toFixed(1)} s: ${Object.entries(counts).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}\n`);
    return {
      size,
      schema: (config.database as { schema: string }).schema,
      config,
      env,
      clientId: client.clientId,
      clientSecret: clientSecret!,
      counts,
      seconds,
      signable,
      randomEmails,
      bigOrg,
      smallOrg,
      orgAdminEmail: admin.email,
      bigOrgAdminEmail: bigAdmin.email,
      deepCursor,
      bigOrgDeepCursor,
      // A month, half a year back.
      windowSinceIso: new Date(nowMs - 200 * DAY_MS).toISOString(),
      windowUntilIso: new Date(nowMs - 170 * DAY_MS).toISOString(),
    };
  } finally {
    await services.close();
  }
}

interface Target {
  seeded: Seeded;
  base: string;
  basic: string;
  platformToken: string;
  orgAdminToken: string;
  bigOrgAdminToken: string;
}

async function tokens(base: string, s: Seeded): Promise<Pick<Target, 'platformToken' | 'orgAdminToken' | 'bigOrgAdminToken'>> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${BOOTSTRAP_ID}:${BOOTSTRAP_SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'admin' }).toString(),
  });
  if (res.status !== 200) throw new Error(`platform admin token: ${res.status} ${await res.text()}`);
  const platformToken = ((await res.json()) as { access_token: string }).access_token;
  const orgAdminToken = (await signIn(base, s.clientId, s.clientSecret, s.orgAdminEmail, { scope: 'openid admin' })).access_token;
  const bigOrgAdminToken = (await signIn(base, s.clientId, s.clientSecret, s.bigOrgAdminEmail, { scope: 'openid admin' })).access_token;
  return { platformToken, orgAdminToken, bigOrgAdminToken };
}

const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;

interface Workload {
  key: string;
  name: string;
  connections: number;
  /** One request (or sign-in) against the target; `state` persists per target (refresh chains). */
  op(t: Target, worker: number, state: Record<string, unknown>): Promise<void>;
}

async function adminGet(t: Target, path: string, token = t.platformToken, expectItems = true) {
  const res = await fetch(`${t.base}/admin/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { items: unknown[] };
  if (expectItems && !body.items.length) throw new Error(`GET ${path}: no items`);
}

const workloads: Workload[] = [
  {
    key: 'sign-in',
    name: 'full sign-in (authorize, password, code exchange)',
    connections: CONNECTIONS,
    // Each connection signs in its own accounts: a policy that prevents concurrent web sessions (the
    // default) ends an account's other sessions, and with them a code not yet exchanged by another connection.
    op: async (t, w) => void (await signIn(t.base, t.seeded.clientId, t.seeded.clientSecret, pick(t.seeded.signable.filter((_, i) => i % CONNECTIONS === w)))),
  },
  {
    key: 'refresh',
    name: 'refresh_token grant (rotating)',
    connections: CONNECTIONS,
    async op(t, w, state) {
      const chains = (state.chains ??= {}) as Record<number, string>;
      chains[w] ??= (await signIn(t.base, t.seeded.clientId, t.seeded.clientSecret, t.seeded.signable[w]!)).refresh_token;
      const res = await fetch(`${t.base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: t.basic },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[w]! }).toString(),
      });
      if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`);
      chains[w] = ((await res.json()) as { refresh_token: string }).refresh_token;
    },
  },
  { key: 'users-first-page', name: 'admin: GET /users (first page of 50)', connections: ADMIN_CONNECTIONS, op: (t) => adminGet(t, '/users?limit=50') },
  {
    key: 'users-email',
    name: 'admin: GET /users?email= (exact, random account)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?email=${encodeURIComponent(pick(t.seeded.randomEmails))}`),
  },
  {
    key: 'users-deep-page',
    name: 'admin: GET /users?cursor= (page at 90% of the list)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?limit=50&cursor=${t.seeded.deepCursor}`),
  },
  {
    key: 'users-big-org',
    name: 'admin: GET /users?organizationId= (largest org)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?limit=50&organizationId=${t.seeded.bigOrg}`),
  },
  {
    key: 'users-big-org-deep',
    name: 'admin: largest org, page at 90% of its members',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?limit=50&organizationId=${t.seeded.bigOrg}&cursor=${t.seeded.bigOrgDeepCursor}`),
  },
  {
    key: 'users-small-org',
    name: 'admin: GET /users?organizationId= (smallest org)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?limit=50&organizationId=${t.seeded.smallOrg}`),
  },
  {
    key: 'users-org-admin',
    name: 'admin: GET /users as a mid-size org\'s admin',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, '/users?limit=50', t.orgAdminToken),
  },
  {
    key: 'users-big-org-admin',
    name: 'admin: GET /users as the largest org\'s admin, deep',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/users?limit=50&cursor=${t.seeded.bigOrgDeepCursor}`, t.bigOrgAdminToken),
  },
  {
    key: 'events-org',
    name: 'admin: GET /organizations/{id}/events (largest)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/organizations/${t.seeded.bigOrg}/events?limit=50`),
  },
  {
    key: 'events-org-window',
    name: 'admin: largest org\'s events in a month, 6 months back',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/organizations/${t.seeded.bigOrg}/events?limit=50&since=${t.seeded.windowSinceIso}&until=${t.seeded.windowUntilIso}`, t.platformToken, false),
  },
  {
    key: 'events-window',
    name: 'admin: GET /events in a month, 6 months back',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, `/events?limit=50&since=${t.seeded.windowSinceIso}&until=${t.seeded.windowUntilIso}`, t.platformToken, false),
  },
  {
    key: 'events-type',
    name: 'admin: GET /events?type= (one type)',
    connections: ADMIN_CONNECTIONS,
    op: (t) => adminGet(t, '/events?limit=50&type=user.password_changed'),
  },
];

/** Every SQL statement of one pass over the workloads, in-process on `seeded`'s schema, run again under EXPLAIN ANALYZE. */
async function explainAll(seeded: Seeded): Promise<{ flagged: string[]; report: string; statements: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const env = { ...seeded.env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}` };
  const app = await createApp(loadConfig(env));
  server.on('request', app.provider.callback());
  const base = `http://127.0.0.1:${port}`;
  const seen = new Map<string, { sql: string; bindings: unknown[]; from: string }>();
  let current = 'setup';
  app.services.db.on('query', (q: { sql: string; bindings?: unknown[] }) => {
    if (!seen.has(q.sql)) seen.set(q.sql, { sql: q.sql, bindings: q.bindings ?? [], from: current });
  });
  try {
    const t: Target = { seeded, base, basic: `Basic ${Buffer.from(`${seeded.clientId}:${seeded.clientSecret}`).toString('base64')}`, ...(await tokens(base, seeded)) };
    const state = {};
    for (const w of workloads) {
      current = w.key;
      await w.op(t, 0, state);
      await w.op(t, 0, state);
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
  }

  const services = await openServices(loadConfig(seeded.env), { migrate: false });
  const flagged: string[] = [];
  let report = '';
  try {
    const db = services.db;
    for (const { sql, bindings, from } of seen.values()) {
      if (/^\s*(begin|commit|rollback|savepoint|release|select pg_advisory|set )/i.test(sql)) continue;
      const text = sql.replace(/\$\d+/g, '?');
      let plan: string;
      const trx = await db.transaction();
      try {
        const r = await trx.raw(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, bindings as Knex.RawBinding[]);
        plan = (r.rows as Array<{ 'QUERY PLAN': string }>).map((x) => x['QUERY PLAN']).join('\n');
      } catch (err) {
        plan = `(could not explain: ${(err as Error).message})`;
      } finally {
        await trx.rollback().catch(() => undefined);
      }
      const ms = Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN);
      const seq = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!).filter((x) => !['signing_keys', 'instance_secrets', 'clients', 'knex_migrations', 'knex_migrations_lock'].includes(x));
      const removed = Math.max(0, ...[...plan.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1])));
      const bad = seq.length > 0 || removed > 1000 || ms > 20;
      const line = `[${from}] ${ms.toFixed(2)} ms${seq.length ? `, seq scan on ${seq.join(', ')}` : ''}${removed > 1000 ? `, ${removed} rows removed by filter` : ''}${bad ? '  <-- NOT INDEX-BACKED / SLOW' : ''}`;
      if (bad) flagged.push(`${line}\n    ${sql}`);
      report += `-- ${line}\n${sql}\n${plan}\n\n`;
    }
  } finally {
    await services.close();
  }
  return { flagged, report, statements: seen.size };
}

async function start(seeded: Seeded): Promise<{ child: ChildProcess; target: Target }> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/src/main.js')], { env: seeded.env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = seeded.env.ISSUER!;
  await waitHealthy(base, `Gatehouse on ${seeded.schema}`);
  const basic = `Basic ${Buffer.from(`${seeded.clientId}:${seeded.clientSecret}`).toString('base64')}`;
  return { child, target: { seeded, base, basic, ...(await tokens(base, seeded)) } };
}

/** MEMORY USAGE and entries of every key under `prefix`, by kind. */
async function keyKinds(redis: Redis, prefix: string) {
  const kinds = new Map<string, { keys: number; bytes: number; members: number }>();
  let cursor = '0';
  do {
    const [c, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = c;
    for (const key of keys) {
      const parts = key.slice(prefix.length).split(':');
      // oidc:<Model>:<id>, oidc:grant:<grantId>, oidc:account:<accountId>:<Model>, oidc:uid:<Model>:<uid>, others (rate limits …)
      const kind =
        parts[0] === 'oidc'
          ? parts[1] === 'account'
            ? `account index (${parts[3]})`
            : parts[1] === 'uid' || parts[1] === 'usercode'
              ? `${parts[1]} → ${parts[2]}`
              : parts[1] === 'grant'
                ? 'grant index'
                : parts[1]!
          : parts.slice(0, 2).join(':');
      const k = kinds.get(kind) ?? { keys: 0, bytes: 0, members: 0 };
      k.keys++;
      k.bytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
      k.members += (await redis.type(key)) === 'set' ? await redis.scard(key) : 1;
      kinds.set(kind, k);
    }
  } while (cursor !== '0');
  return kinds;
}

/** Redis bytes per session and per refresh token: MEMORY USAGE of every key Gatehouse wrote for `n` sign-ins, by kind. */
async function redisMemory(seeded: Seeded, n: number) {
  const url = process.env.REDIS_URL!;
  const tag = `scalemem${Date.now().toString(36)}`;
  const port = await freePort();
  const env: Record<string, string> = { ...environment(tag, port), DATABASE_SCHEMA: seeded.schema };
  const prefix = env.REDIS_KEY_PREFIX!;
  const redis = new Redis(url);
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = env.ISSUER!;
  const services = await openServices(loadConfig(env), { migrate: false });
  // Distinct accounts: the default policy ends an account's other web sessions at each sign-in.
  const emails = (
    await services.db.raw(
      `SELECT email FROM accounts a WHERE status = 'active' AND org_role IS DISTINCT FROM 'admin' AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.account_id = a.id)
       ORDER BY md5(id || 'redis') LIMIT ?`,
      [n],
    )
  ).rows.map((r: { email: string }) => r.email) as string[];
  await services.close();
  try {
    await waitHealthy(base, 'Gatehouse (Redis memory)');
    const usedBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    let next = 0;
    const refresh: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          const i = next++;
          refresh.push((await signIn(base, seeded.clientId, seeded.clientSecret, emails[i % emails.length]!)).refresh_token);
        }
      }),
    );
    const usedAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const kinds = await keyKinds(redis, prefix);
    const get = (kind: string, from = kinds) => from.get(kind) ?? { keys: 0, bytes: 0, members: 0 };
    const session = get('Session');
    const sessionUid = get('uid → Session');
    const rt = get('RefreshToken');
    const sessionIndex = get('account index (Session)');
    const rtIndex = get('account index (RefreshToken)');
    const grantIndex = get('grant index');
    const grantIndexShare = grantIndex.members ? grantIndex.bytes / grantIndex.members : 0;
    // A session: its hash, its uid → id key, its entry in the per-account index.
    const perSession = (session.bytes + sessionUid.bytes + sessionIndex.bytes) / Math.max(1, session.keys);
    // A refresh token: its hash, its entries in the per-account index and in its grant's index (one member each).
    const perRefresh = (rt.bytes + rtIndex.bytes) / Math.max(1, rt.keys) + grantIndexShare;
    // Rotation: each refresh consumes the presented token, which stays (for reuse detection) until it expires.
    const rotations = 5;
    const chains = refresh.slice(0, Math.min(100, refresh.length));
    await Promise.all(
      chains.map(async (token) => {
        for (let r = 0; r < rotations; r++) {
          const res = await fetch(`${base}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${seeded.clientId}:${seeded.clientSecret}`).toString('base64')}` },
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
          });
          if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`);
          token = ((await res.json()) as { refresh_token: string }).refresh_token;
        }
      }),
    );
    const after = await keyKinds(redis, prefix);
    const rotated = get('RefreshToken', after);
    const rotatedIndex = get('account index (RefreshToken)', after);
    const grantIndexAfter = get('grant index', after);
    const bytesPerRotation =
      (rotated.bytes + rotatedIndex.bytes + grantIndexAfter.bytes - (rt.bytes + rtIndex.bytes + grantIndex.bytes)) / (chains.length * rotations);
    return {
      rotation: { chains: chains.length, rotationsEach: rotations, refreshTokensBefore: rt.keys, refreshTokensAfter: rotated.keys, bytesPerRotation },
      signIns: n,
      usedMemoryDelta: usedAfter - usedBefore,
      usedMemoryPerSignIn: (usedAfter - usedBefore) / n,
      perSession,
      perRefreshToken: perRefresh,
      kinds: Object.fromEntries([...kinds].map(([k, v]) => [k, { ...v, bytesPerKey: v.bytes / v.keys }])),
      refreshTokensIssued: refresh.length,
    };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    if (!KEEP) {
      let cursor = '0';
      do {
        const [c, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = c;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
    redis.disconnect();
  }
}

async function main() {
  if (!process.env.DATABASE_URL?.startsWith('postgres')) {
    console.error('bench:scale runs on PostgreSQL only: set DATABASE_URL=postgres://… (and REDIS_URL to measure Redis memory per session).');
    process.exit(2);
  }
  const tag = `scale${Date.now().toString(36)}`;
  const results: Record<string, unknown> = { date: new Date().toISOString(), cpus: cpus().length, redis: Boolean(process.env.REDIS_URL) };
  const seededAll: Seeded[] = [];
  const children: ChildProcess[] = [];
  try {
    const small = await seed(SMALL, `${tag}s`);
    seededAll.push(small);
    const large = await seed(LARGE, `${tag}l`);
    seededAll.push(large);
    results.seed = seededAll.map((s) => ({ size: s.size, seconds: s.seconds, counts: s.counts }));

    console.log('EXPLAIN ANALYZE of every statement the workloads make, on the large schema');
    const explained = await explainAll(large);
    const out = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'scale-explain.txt'), explained.report);
    console.log(`  ${explained.statements} distinct statements; ${explained.flagged.length} flagged${explained.flagged.length ? ':' : ''}`);
    for (const f of explained.flagged) console.log(`  ${f}`);
    results.explain = { statements: explained.statements, flagged: explained.flagged };

    const targets: Target[] = [];
    for (const s of [small, large]) {
      const { child, target } = await start(s);
      children.push(child);
      targets.push(target);
    }
    const slices = Math.max(1, Math.round(SECONDS / SLICE));
    const sliceSeconds = SECONDS / slices;
    console.log(`\nlatency, ${SECONDS}s per workload and size in ${slices} alternating slice(s), ${cpus().length} CPUs`);
    const rows: Array<{ key: string; name: string; small: Row; large: Row }> = [];
    const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
    for (const w of workloads.filter((x) => !only || only.has(x.key))) {
      const got: Slice[][] = [[], []];
      const state: Array<Record<string, unknown>> = [{}, {}];
      for (let i = 0; i < slices; i++) {
        for (const ti of i % 2 === 0 ? [0, 1] : [1, 0]) {
          const t = targets[ti]!;
          got[ti]!.push(await loopSlice(`${w.key}@${t.seeded.size}`, w.connections, (worker) => w.op(t, worker, state[ti]!), sliceSeconds));
        }
      }
      rows.push({ key: w.key, name: w.name, small: merge(w.name, got[0]!), large: merge(w.name, got[1]!) });
    }
    const fmt = (n: number | null, d = 1) => (n === null ? '-' : n.toFixed(d));
    const hs = (n: number) => n.toLocaleString('en');
    console.log(
      `\n${'workload'.padEnd(52)} ${`${hs(SMALL)} /s`.padStart(10)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${`${hs(LARGE)} /s`.padStart(12)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'p50 ×'.padStart(6)} ${'errors'.padStart(7)}`,
    );
    for (const r of rows) {
      const ratio = r.small.p50ms && r.large.p50ms ? r.large.p50ms / r.small.p50ms : null;
      console.log(
        `${r.name.padEnd(52)} ${fmt(r.small.perSecond).padStart(10)} ${fmt(r.small.p50ms).padStart(7)} ${fmt(r.small.p99ms).padStart(7)} ${fmt(r.large.perSecond).padStart(12)} ${fmt(r.large.p50ms).padStart(7)} ${fmt(r.large.p99ms).padStart(7)} ${fmt(ratio, 2).padStart(6)} ${`${r.small.errors}/${r.large.errors}`.padStart(7)}`,
      );
    }
    results.rows = rows;
    for (const child of children.splice(0)) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }

    if (process.env.REDIS_URL) {
      console.log(`\nRedis memory: ${REDIS_SESSIONS} sign-ins on a fresh key prefix`);
      const mem = await redisMemory(large, REDIS_SESSIONS);
      console.log(`${'key kind'.padEnd(36)} ${'keys'.padStart(6)} ${'bytes/key'.padStart(10)} ${'members'.padStart(8)}`);
      for (const [k, v] of Object.entries(mem.kinds)) console.log(`${k.padEnd(36)} ${String(v.keys).padStart(6)} ${fmt(v.bytesPerKey, 0).padStart(10)} ${String(v.members).padStart(8)}`);
      console.log(
        `per active session: ${fmt(mem.perSession, 0)} B; per refresh token: ${fmt(mem.perRefreshToken, 0)} B; INFO used_memory grew ${fmt(mem.usedMemoryPerSignIn, 0)} B per sign-in (all artifacts)`,
      );
      console.log(
        `rotation: ${mem.rotation.chains} chains refreshed ${mem.rotation.rotationsEach} times each: refresh tokens ${mem.rotation.refreshTokensBefore} → ${mem.rotation.refreshTokensAfter} (consumed ones stay until they expire), ${fmt(mem.rotation.bytesPerRotation, 0)} B per rotation`,
      );
      results.redis = mem;
    }
    writeFileSync(join(out, 'scale.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log('\nwritten: bench/results/scale.json, bench/results/scale-explain.txt');
  } finally {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    if (!KEEP) {
      for (const s of seededAll) {
        await removeBenchData(s.config);
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
