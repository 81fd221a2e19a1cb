/**
 * `npm run bench`: starts Gatehouse in its own process (embedded by default; PostgreSQL + Redis when
 * DATABASE_URL / REDIS_URL are set) and measures, in one run:
 *   full sign-ins (authorize → password form → code exchange), refresh-token grants, client-credentials
 *   grants, JWKS and discovery requests per second with p50/p99 latency, and the argon2 verify rate
 *   on this machine, which bounds the sign-in rate.
 * userinfo and introspection requests with an opaque access token are measured too.
 * In the same run it starts bench/baseline.ts, a bare oidc-provider with the same oidc-provider and argon2
 * (memory adapter, one client, a one-POST password form), and drives both with the same client code in
 * alternating slices, printing Gatehouse's rate as a fraction of the baseline's per workload; and it
 * measures `argon2` against `@node-rs/argon2` verifying the same PHC hashes (each library's hash checked
 * by the other).
 * Prints a table and writes bench/results/latest.json. BENCH_SECONDS (per measurement and target),
 * BENCH_SLICE_SECONDS (5) and BENCH_CONNECTIONS tune it; BENCH_ONLY (a comma list of sign-in, refresh,
 * client-credentials, jwks, discovery, userinfo, introspection, argon2, reuse-check) measures only those rows.
 * BENCH_COUNT=1 serves Gatehouse's metrics on a private port and reports, per workload operation, the SQL
 * statements and Redis commands Gatehouse sent (from its own counters, read before and after each slice).
 * BENCH_PROFILE=<dir> runs Gatehouse with `--cpu-prof --cpu-prof-dir=<dir>` (open the .cpuprofile in
 * Chrome's DevTools or speedscope).
 * BENCH_NODES=N (N > 1: PostgreSQL + Redis only) runs Gatehouse as a fleet of N processes on one schema and
 * one Redis prefix behind the round-robin proxy of the fleet tests (bench/fleet.ts, in this process, keeping
 * its connections to the nodes open), drives the Gatehouse side of every workload through the proxy's URL
 * (every node's ISSUER), still against the one baseline process addressed directly, and prints how many
 * requests each node served; CPU per operation is then the sum over the N node processes (the proxy's own
 * CPU is not in it), and BENCH_COUNT sums the N nodes' counters. BENCH_NODES=1 puts the one process behind
 * the proxy, which isolates the proxy's share of the difference.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import autocannon from 'autocannon';
import argon2 from 'argon2';
import * as nodeRsArgon2 from '@node-rs/argon2';
import { loadConfig } from '../src/config/index.js';
import { openServices } from '../src/services/index.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { CALLBACK, PASSWORD, benchEnvironment, freePort, loopSlice, merge, removeBenchData, signIn, waitHealthy, type Row, type Slice } from './common.js';
import { startProxiedFleet, type ProxiedFleet } from './fleet.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SLICE = Number(process.env.BENCH_SLICE_SECONDS ?? 5);
const API = 'https://api.bench.test/';
const ROWS = ['sign-in', 'refresh', 'client-credentials', 'jwks', 'discovery', 'userinfo', 'introspection', 'argon2', 'reuse-check'];
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
for (const key of ONLY ?? []) if (!ROWS.includes(key)) throw new Error(`BENCH_ONLY: unknown row ${key} (rows: ${ROWS.join(', ')})`);
const wanted = (key: string) => !ONLY || ONLY.has(key);
const COUNT = process.env.BENCH_COUNT === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE;
/** BENCH_NODES set (even to 1): Gatehouse behind the fleet proxy; unset: one process, addressed directly. */
const FLEET = Boolean(process.env.BENCH_NODES);
const NODES = Number(process.env.BENCH_NODES || 1);
if (!Number.isInteger(NODES) || NODES < 1) throw new Error(`BENCH_NODES: a whole number of Gatehouse processes, 1 or more (got ${process.env.BENCH_NODES})`);
if (NODES > 1 && !(process.env.DATABASE_URL?.startsWith('postgres') && process.env.REDIS_URL)) {
  console.error(
    `BENCH_NODES=${NODES}: several Gatehouse processes must share PostgreSQL and Redis (an SQLite file and in-process memory cannot be shared);\n` +
      'set DATABASE_URL=postgres://… and REDIS_URL=redis://…, or leave BENCH_NODES unset for one process.',
  );
  process.exit(2);
}

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux). Per operation, it is a server's own
 * cost, which the load of other processes on the machine changes far less than its rate.
 */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

/** The CPU seconds of several processes (a fleet's nodes) together; null if any cannot be read. */
function cpuSecondsOf(pids: number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    const cpu = cpuSeconds(pid);
    if (cpu === null) return null;
    total += cpu;
  }
  return total;
}

/** SQL statements and Redis commands Gatehouse has sent so far, from its Prometheus counters (summed over a fleet's nodes). */
async function backendCounts(metricsUrls: string[]): Promise<{ sql: number; redis: number }> {
  const text = (await Promise.all(metricsUrls.map(async (url) => (await fetch(`${url}/metrics`)).text()))).join('\n');
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { sql: sum('gatehouse_db_query_duration_seconds_count'), redis: sum('gatehouse_redis_command_duration_seconds_count') };
}

async function cannonSlice(opts: autocannon.Options, seconds: number): Promise<Slice> {
  const r = await autocannon({ connections: CONNECTIONS, duration: seconds, ...opts });
  return { count: r.requests.total, errors: r.errors + r.non2xx, seconds: r.duration, p50ms: r.latency.p50, p99ms: r.latency.p99 };
}

async function closedLoop(name: string, concurrency: number, op: (worker: number) => Promise<void>): Promise<Row> {
  return merge(name, [await loopSlice(name, concurrency, op, SECONDS)]);
}

/**
 * argon2id verify rates of `argon2` (the server's library until this change) and `@node-rs/argon2`, 4 in parallel each (both verify on
 * libuv's pool, 4 threads by default, as the server does), in alternating slices; and whether each library
 * accepts the other's PHC hash and refuses a wrong password on it.
 */
async function argon2Rates(params: { memoryCost: number; timeCost: number; parallelism: number }, slices: number, sliceSeconds: number) {
  const fromArgon2 = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...params });
  const fromNapi = await nodeRsArgon2.hash(PASSWORD, { algorithm: 2 as nodeRsArgon2.Algorithm /* Argon2id */, ...params });
  const compatibility = {
    argon2Hash: fromArgon2.split('$').slice(0, 4).join('$'),
    nodeRsHash: fromNapi.split('$').slice(0, 4).join('$'),
    argon2AcceptsNodeRsHash: await argon2.verify(fromNapi, PASSWORD),
    argon2RefusesWrongPasswordOnNodeRsHash: !(await argon2.verify(fromNapi, 'wrong')),
    nodeRsAcceptsArgon2Hash: await nodeRsArgon2.verify(fromArgon2, PASSWORD),
    nodeRsRefusesWrongPasswordOnArgon2Hash: !(await nodeRsArgon2.verify(fromArgon2, 'wrong')),
  };
  const ops = {
    argon2: async () => {
      if (!(await argon2.verify(fromArgon2, PASSWORD))) throw new Error('verify failed');
    },
    nodeRs: async () => {
      if (!(await nodeRsArgon2.verify(fromNapi, PASSWORD))) throw new Error('verify failed');
    },
  };
  const got = { argon2: [] as Slice[], nodeRs: [] as Slice[] };
  for (let i = 0; i < slices; i++) {
    for (const k of i % 2 === 0 ? (['argon2', 'nodeRs'] as const) : (['nodeRs', 'argon2'] as const)) {
      got[k].push(await loopSlice(k, 4, ops[k], sliceSeconds));
    }
  }
  return {
    argon2: merge('argon2id verify, argon2 package', got.argon2),
    nodeRs: merge('argon2id verify, @node-rs/argon2 (the bound)', got.nodeRs),
    compatibility,
  };
}

/**
 * A password change's reuse check against ten stored hashes (the most a policy keeps), measured in
 * this process with the event loop's delay sampled meanwhile: the verifications run on the thread pool.
 */
async function historyCheck(config: ReturnType<typeof loadConfig>) {
  const services = await openServices(config, { migrate: false });
  try {
    const account = (await services.accounts.create({ email: 'reuse-check@example.com', password: 'History-Pass-0' }))!;
    const hashes = await Promise.all(Array.from({ length: 9 }, (_, i) => argon2.hash(`History-Pass-${i + 1}`, { type: argon2.argon2id, ...config.argon2 })));
    for (const hash of hashes) await services.db('password_history').insert({ account_id: account.id, password_hash: hash, created_at: 0 });
    await services.policies.updateBaseline({ password: { historyCount: 10 } }, { actor: { type: 'system', id: 'bench' }, request: { ip: null, userAgent: null } });
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const row = await closedLoop('reuse check against 10 password hashes', 1, async () => {
      const result = await services.passwordChanges.check(account, 'Brand-New-Pass-1');
      if (!result.ok) throw new Error('unexpected refusal');
    });
    delay.disable();
    return { row, loopDelayP99Ms: delay.percentile(99) / 1e6, loopDelayMaxMs: delay.max / 1e6 };
  } finally {
    await services.close();
  }
}

interface Target {
  label: 'gatehouse' | 'baseline';
  /** The server processes (one, or a fleet's nodes), whose CPU time each slice reads. */
  pids: number[];
  base: string;
  clientId: string;
  secret: string;
  basic: string;
}

interface Workload {
  key: string;
  name: string;
  /** One slice against one target; `state` persists across that target's slices (refresh chains). */
  slice(t: Target, seconds: number, state: Record<string, unknown>): Promise<Slice>;
}

interface Compared {
  key: string;
  name: string;
  gatehouse: Row;
  baseline: Row;
  fraction: number | null;
  /** BENCH_COUNT: SQL statements and Redis commands per Gatehouse operation. */
  perOperation?: { sql: number; redis: number };
  /** BENCH_NODES: requests the proxy sent to each node during this workload's Gatehouse slices (setup included). */
  servedByNode?: number[];
}

async function main() {
  const fleetMode = FLEET;
  const port = await freePort();
  const tag = `bench${Date.now().toString(36)}`;
  const { env, sqliteFile } = benchEnvironment(tag, port, {
    RESOURCE_SERVERS: JSON.stringify({ [API]: { scopes: ['read'] } }),
    // A fleet's nodes share their keys (the fleet's ISSUER, HOST, PORT and TRUSTED_PROXIES replace the above);
    // the node logs at info, which is how the harness knows it is running.
    ...(fleetMode ? { COOKIE_KEYS: randomBytes(32).toString('hex'), DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'), LOG_LEVEL: 'info' } : {}),
  });
  const metricsPorts = COUNT ? await Promise.all(Array.from({ length: NODES }, () => freePort())) : [];
  const metricsUrls = metricsPorts.map((p) => `http://127.0.0.1:${p}`);
  if (COUNT && !fleetMode) env.METRICS_PORT = String(metricsPorts[0]);
  const config = loadConfig(env);
  const backend = `${config.database.kind}${config.redis ? ' + redis' : ''}`;

  const services = await openServices(config);
  const users = Array.from({ length: 32 }, (_, i) => `bench${i}@example.com`);
  for (const email of users) await services.accounts.create({ email, password: PASSWORD });
  const { client, clientSecret } = await services.clients.create({ clientName: 'Bench', sessionType: 'web', redirectUris: [CALLBACK] });
  await services.close();

  const basePort = await freePort();
  const baselineEnv = {
    ...(process.env as Record<string, string>),
    BASELINE_PORT: String(basePort),
    BASELINE_CLIENT: JSON.stringify({ clientId: client.clientId, clientSecret, redirectUri: CALLBACK }),
    BASELINE_RESOURCE: JSON.stringify({ uri: API, scopes: ['read'] }),
    BASELINE_ARGON2: JSON.stringify(config.argon2),
    BASELINE_USERS: JSON.stringify({ emails: users, password: PASSWORD }),
    BASELINE_ACCESS_TOKEN_SECONDS: String(config.lifetimes.accessTokenSeconds),
  };

  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  let server: ChildProcess | undefined;
  let fleet: ProxiedFleet | undefined;
  const bare = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/bench/baseline.js')], { env: baselineEnv, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    let base: string;
    let pids: number[];
    if (fleetMode) {
      fleet = await startProxiedFleet({
        nodes: NODES,
        env,
        nodeEnv: (i): Record<string, string> => (COUNT ? { METRICS_PORT: String(metricsPorts[i]) } : {}),
        // Count per node only: the proxy would otherwise keep every request of the run.
        record: false,
        // As a load balancer keeps its upstream connections.
        keepAlive: true,
        spawn: { nodeArgs: profile, echoStderr: true },
      });
      base = fleet.issuer;
      pids = fleet.nodes.map((n) => n.process!.child.pid!);
    } else {
      server = spawn(process.execPath, [...profile, join(PROJECT_ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      base = env.ISSUER!;
      pids = [server.pid!];
      await waitHealthy(base, 'Gatehouse');
    }
    await waitHealthy(`http://127.0.0.1:${basePort}`, 'the baseline provider');
    const slices = Math.max(1, Math.round(SECONDS / SLICE));
    const sliceSeconds = SECONDS / slices;
    const shape = fleetMode ? `${NODES} Gatehouse process${NODES === 1 ? '' : 'es'} behind a round-robin proxy (${base})` : 'Gatehouse';
    console.log(
      `${shape} on ${backend} against a bare oidc-provider (memory adapter); ${SECONDS}s per measurement and target ` +
        `in ${slices} alternating slice(s) of ${sliceSeconds}s, ${CONNECTIONS} connections, ${cpus().length} CPUs\n`,
    );
    const basic = `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}`;
    const targets: Target[] = [
      { label: 'gatehouse', pids, base, clientId: client.clientId, secret: clientSecret!, basic },
      { label: 'baseline', pids: [bare.pid!], base: `http://127.0.0.1:${basePort}`, clientId: client.clientId, secret: clientSecret!, basic },
    ];
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    const workloads: Workload[] = [
      {
        key: 'sign-in',
        name: 'full sign-in (authorize, password, code exchange)',
        slice: (t, seconds) => loopSlice(t.label, CONNECTIONS, async (w) => void (await signIn(t.base, t.clientId, t.secret, users[w % users.length]!)), seconds),
      },
      {
        // One refresh-token chain per connection: rotation makes every token single-use.
        key: 'refresh',
        name: 'refresh_token grant (rotating)',
        async slice(t, seconds, state) {
          state.chains ??= await Promise.all(
            Array.from({ length: CONNECTIONS }, (_, w) => signIn(t.base, t.clientId, t.secret, users[w % users.length]!).then((x) => x.refresh_token)),
          );
          const chains = state.chains as string[];
          return loopSlice(t.label, CONNECTIONS, async (w) => {
            const res = await fetch(`${t.base}/token`, {
              method: 'POST',
              headers: { ...form, authorization: t.basic },
              body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[w]! }).toString(),
            });
            if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`);
            chains[w] = ((await res.json()) as { refresh_token: string }).refresh_token;
          }, seconds);
        },
      },
      {
        key: 'client-credentials',
        name: 'client_credentials grant (JWT access token)',
        slice: (t, seconds) =>
          cannonSlice({
            url: `${t.base}/token`,
            method: 'POST',
            headers: { ...form, authorization: t.basic },
            body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }).toString(),
          }, seconds),
      },
      { key: 'jwks', name: 'GET /jwks', slice: (t, seconds) => cannonSlice({ url: `${t.base}/jwks` }, seconds) },
      {
        key: 'discovery',
        name: 'GET /.well-known/openid-configuration',
        slice: (t, seconds) => cannonSlice({ url: `${t.base}/.well-known/openid-configuration` }, seconds),
      },
      {
        // A fresh sign-in before each slice, so the (opaque) access token never expires mid-slice.
        key: 'userinfo',
        name: 'GET /me (userinfo, opaque access token)',
        async slice(t, seconds) {
          const { access_token } = await signIn(t.base, t.clientId, t.secret, users[0]!);
          const check = await fetch(`${t.base}/me`, { headers: { authorization: `Bearer ${access_token}` } });
          if (!((await check.json()) as { sub?: string }).sub) throw new Error(`${t.label}: userinfo answered no sub`);
          return cannonSlice({ url: `${t.base}/me`, headers: { authorization: `Bearer ${access_token}` } }, seconds);
        },
      },
      {
        key: 'introspection',
        name: 'POST /token/introspection (opaque access token)',
        async slice(t, seconds) {
          const { access_token } = await signIn(t.base, t.clientId, t.secret, users[0]!);
          const check = await fetch(`${t.base}/token/introspection`, {
            method: 'POST',
            headers: { ...form, authorization: t.basic },
            body: new URLSearchParams({ token: access_token }).toString(),
          });
          if (!((await check.json()) as { active?: boolean }).active) throw new Error(`${t.label}: introspection does not find the token active`);
          return cannonSlice({
            url: `${t.base}/token/introspection`,
            method: 'POST',
            headers: { ...form, authorization: t.basic },
            body: new URLSearchParams({ token: access_token }).toString(),
          }, seconds);
        },
      },
    ];

    const compared: Compared[] = [];
    for (const w of workloads.filter((x) => wanted(x.key))) {
      const got: Record<string, Slice[]> = { gatehouse: [], baseline: [] };
      const state: Record<string, Record<string, unknown>> = { gatehouse: {}, baseline: {} };
      const sent = { sql: 0, redis: 0 };
      const servedBefore = fleet ? [...fleet.servedBy] : null;
      // Alternate, starting with the other target each round, so drift in machine load falls on both alike.
      for (let i = 0; i < slices; i++) {
        for (const t of i % 2 === 0 ? targets : [...targets].reverse()) {
          const before = COUNT && t.label === 'gatehouse' ? await backendCounts(metricsUrls) : null;
          const cpuBefore = cpuSecondsOf(t.pids);
          const slice = await w.slice(t, sliceSeconds, state[t.label]!);
          const cpuAfter = cpuSecondsOf(t.pids);
          got[t.label]!.push({ ...slice, cpu: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null });
          if (before) {
            const after = await backendCounts(metricsUrls);
            sent.sql += after.sql - before.sql;
            sent.redis += after.redis - before.redis;
          }
        }
      }
      const g = merge(w.name, got.gatehouse!);
      const b = merge(w.name, got.baseline!);
      const perOperation = COUNT && g.count ? { sql: sent.sql / g.count, redis: sent.redis / g.count } : undefined;
      const servedByNode = fleet && servedBefore ? fleet.servedBy.map((n, i) => n - servedBefore[i]!) : undefined;
      compared.push({ key: w.key, name: w.name, gatehouse: g, baseline: b, fraction: b.perSecond ? g.perSecond / b.perSecond : null, perOperation, servedByNode });
    }

    const rows: Row[] = [];
    const argon2s = wanted('argon2') ? await argon2Rates(config.argon2, slices, sliceSeconds) : null;
    // The bound on sign-ins is the server's own library (@node-rs/argon2).
    const argon2Row = argon2s?.nodeRs ?? null;
    if (argon2s) rows.push(argon2s.argon2, argon2s.nodeRs);
    const history = wanted('reuse-check') ? await historyCheck(config) : null;
    if (history) rows.push(history.row);

    const fmt = (n: number | null, d = 1) => (n === null ? '-' : n.toFixed(d));
    if (compared.length) console.log(
      `${'workload'.padEnd(48)} ${'gatehouse/s'.padStart(11)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'baseline/s'.padStart(10)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'fraction'.padStart(8)} ${'errors'.padStart(7)} ${'CPU ms/op'.padStart(15)} ${'CPU fraction'.padStart(12)}`,
    );
    for (const c of compared) {
      const { gatehouse: g, baseline: b } = c;
      console.log(
        `${c.name.padEnd(48)} ${fmt(g.perSecond).padStart(11)} ${fmt(g.p50ms).padStart(7)} ${fmt(g.p99ms).padStart(7)} ${fmt(b.perSecond).padStart(10)} ${fmt(b.p50ms).padStart(7)} ${fmt(b.p99ms).padStart(7)} ${fmt(c.fraction, 2).padStart(8)} ${`${g.errors}/${b.errors}`.padStart(7)} ${`${fmt(g.cpuMsPerOp ?? null, 3)}/${fmt(b.cpuMsPerOp ?? null, 3)}`.padStart(15)} ${fmt(g.cpuMsPerOp && b.cpuMsPerOp ? b.cpuMsPerOp / g.cpuMsPerOp : null, 2).padStart(12)}` +
          (c.perOperation ? `   per operation: ${fmt(c.perOperation.sql, 2)} SQL, ${fmt(c.perOperation.redis, 2)} Redis` : ''),
      );
    }
    if (fleet && compared.length) {
      console.log(`\n${'requests the proxy sent to each node (Gatehouse slices and their setup)'.padEnd(72)} ${fleet.nodes.map((n) => `node ${n.index}`.padStart(9)).join(' ')}`);
      for (const c of compared) {
        const served = c.servedByNode ?? [];
        const total = served.reduce((x, y) => x + y, 0);
        console.log(
          `${c.name.padEnd(72)} ${served.map((n) => String(n).padStart(9)).join(' ')}   (${served.map((n) => `${total ? Math.round((100 * n) / total) : 0}%`).join(' / ')})`,
        );
      }
    }
    if (rows.length) {
      console.log(`\n${'measurement (in this process)'.padEnd(52)} ${'ops/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'count'.padStart(8)} ${'errors'.padStart(7)}`);
      for (const r of rows) {
        console.log(`${r.name.padEnd(52)} ${fmt(r.perSecond).padStart(9)} ${fmt(r.p50ms).padStart(8)} ${fmt(r.p99ms).padStart(8)} ${String(r.count).padStart(8)} ${String(r.errors).padStart(7)}`);
      }
    }
    const signInRow = compared.find((c) => c.key === 'sign-in');
    const signInOfBound =
      signInRow && argon2Row?.perSecond
        ? { gatehouse: signInRow.gatehouse.perSecond / argon2Row.perSecond, baseline: signInRow.baseline.perSecond / argon2Row.perSecond }
        : null;
    if (signInOfBound) {
      console.log(`\nsign-ins as a fraction of the @node-rs/argon2 verify bound: Gatehouse ${fmt(signInOfBound.gatehouse, 2)}, baseline ${fmt(signInOfBound.baseline, 2)}`);
    }
    if (argon2s) {
      const c = argon2s.compatibility;
      console.log(
        `@node-rs/argon2 verifies ${fmt(argon2s.nodeRs.perSecond / argon2s.argon2.perSecond, 2)}x as fast as argon2; ` +
          `argon2 accepts its hash: ${c.argon2AcceptsNodeRsHash}, it accepts argon2's: ${c.nodeRsAcceptsArgon2Hash}, wrong passwords refused both ways: ${c.argon2RefusesWrongPasswordOnNodeRsHash && c.nodeRsRefusesWrongPasswordOnArgon2Hash} (${c.argon2Hash} / ${c.nodeRsHash})`,
      );
    }
    const out = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    if (history) console.log(`\nwhile checking a new password against 10 stored hashes: event loop delay p99 ${history.loopDelayP99Ms.toFixed(1)} ms, max ${history.loopDelayMaxMs.toFixed(1)} ms`);
    const result = {
      date: new Date().toISOString(),
      backend,
      nodes: NODES,
      seconds: SECONDS,
      sliceSeconds,
      connections: CONNECTIONS,
      argon2: config.argon2,
      // Gatehouse's rows, as before; `baseline` holds the bare provider's, `fractions` Gatehouse's share of them.
      rows: [...compared.map((c) => c.gatehouse), ...rows],
      baseline: compared.map((c) => c.baseline),
      fractions: Object.fromEntries(compared.map((c) => [c.key, c.fraction])),
      ...(fleet ? { servedByNode: Object.fromEntries(compared.map((c) => [c.key, c.servedByNode])) } : {}),
      ...(COUNT ? { perOperation: Object.fromEntries(compared.map((c) => [c.key, c.perOperation])) } : {}),
      signInFractionOfArgon2Bound: signInOfBound,
      argon2Libraries: argon2s ? { argon2: argon2s.argon2.perSecond, nodeRsArgon2: argon2s.nodeRs.perSecond, compatibility: argon2s.compatibility } : null,
      ...(ONLY ? { only: [...ONLY] } : {}),
      historyCheckEventLoopDelayMs: history ? { p99: history.loopDelayP99Ms, max: history.loopDelayMaxMs } : null,
    };
    writeFileSync(join(out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwritten: bench/results/latest.json`);
  } finally {
    await fleet?.stop();
    for (const child of [server, bare]) {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    await removeBenchData(config, sqliteFile);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
