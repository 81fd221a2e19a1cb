/**
 * `npm run bench`: starts Gatehouse in its own process (embedded by default; PostgreSQL + Redis when
 * DATABASE_URL / REDIS_URL are set) and measures, in one run:
 *   full sign-ins (authorize → password form → code exchange), refresh-token grants, client-credentials
 *   grants, JWKS and discovery requests per second with p50/p99 latency, and the argon2 verify rate
 *   on this machine, which bounds the sign-in rate.
 * Prints a table and writes bench/results/latest.json. BENCH_SECONDS and BENCH_CONNECTIONS tune it;
 * BENCH_ONLY (a comma list of sign-in, refresh, client-credentials, jwks, discovery, argon2, reuse-check)
 * measures only those rows.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import autocannon from 'autocannon';
import argon2 from 'argon2';
import { loadConfig } from '../src/config/index.js';
import { openServices } from '../src/services/index.js';
import { PROJECT_ROOT } from '../src/paths.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const API = 'https://api.bench.test/';
const CALLBACK = 'http://127.0.0.1:9/callback';
const PASSWORD = 'Bench-Pass-123';
const ROWS = ['sign-in', 'refresh', 'client-credentials', 'jwks', 'discovery', 'argon2', 'reuse-check'];
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null;
for (const key of ONLY ?? []) if (!ROWS.includes(key)) throw new Error(`BENCH_ONLY: unknown row ${key} (rows: ${ROWS.join(', ')})`);
const wanted = (key: string) => !ONLY || ONLY.has(key);

interface Row {
  name: string;
  perSecond: number;
  p50ms: number | null;
  p99ms: number | null;
  count: number;
  errors: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : null;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs `op` from `concurrency` loops for `seconds`; each resolved call is one operation. */
async function closedLoop(name: string, concurrency: number, op: (worker: number) => Promise<void>): Promise<Row> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op(worker);
          latencies.push(performance.now() - t);
        } catch (err) {
          errors++;
          if (errors <= 3) console.error(`${name}: ${(err as Error).message}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    name,
    perSecond: latencies.length / elapsed,
    p50ms: percentile(latencies, 50),
    p99ms: percentile(latencies, 99),
    count: latencies.length,
    errors,
  };
}

async function cannon(name: string, opts: autocannon.Options): Promise<Row> {
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  return {
    name,
    perSecond: r.requests.average,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    count: r.requests.total,
    errors: r.errors + r.non2xx,
  };
}

/** A cookie-keeping sign-in through the real pages, then the code exchange. Returns the token response. */
async function signIn(base: string, clientId: string, secret: string, email: string) {
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  };
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', base);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid offline_access',
    prompt: 'consent',
    redirect_uri: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) auth.searchParams.set(k, v);
  let res = await send(auth.href);
  const interaction = new URL(res.headers.get('location')!, base).href;
  res = await send(interaction);
  const html = await res.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  res = await send(`${interaction}/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, email, password: PASSWORD }).toString(),
  });
  if (res.status !== 303) throw new Error(`password step answered ${res.status}`);
  let location = new URL(res.headers.get('location')!, base).href;
  while (!location.startsWith(CALLBACK)) {
    res = await send(location);
    await res.arrayBuffer();
    location = new URL(res.headers.get('location')!, base).href;
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code: ${location}`);
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }).toString(),
  });
  if (token.status !== 200) throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`);
  return (await token.json()) as { refresh_token: string; access_token: string };
}

async function argon2Rate(params: { memoryCost: number; timeCost: number; parallelism: number }): Promise<Row> {
  const hash = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...params });
  // The server verifies on libuv's thread pool (4 threads by default): measure with the same parallelism.
  return closedLoop('argon2id verify (bound on sign-ins)', 4, async () => {
    if (!(await argon2.verify(hash, PASSWORD))) throw new Error('verify failed');
  });
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

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const tag = `bench${Date.now().toString(36)}`;
  const sqliteFile = join(tmpdir(), `gatehouse-${tag}.db`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: base,
    LOG_LEVEL: 'warn',
    DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${sqliteFile}`,
    ...(process.env.DATABASE_URL?.startsWith('postgres') ? { DATABASE_SCHEMA: `gh_${tag}` } : {}),
    ...(process.env.REDIS_URL ? { REDIS_KEY_PREFIX: `gh:${tag}:` } : {}),
    RESOURCE_SERVERS: JSON.stringify({ [API]: { scopes: ['read'] } }),
  };
  const config = loadConfig(env);
  const backend = `${config.database.kind}${config.redis ? ' + redis' : ''}`;

  const services = await openServices(config);
  const users = Array.from({ length: 32 }, (_, i) => `bench${i}@example.com`);
  for (const email of users) await services.accounts.create({ email, password: PASSWORD });
  const { client, clientSecret } = await services.clients.create({ clientName: 'Bench', sessionType: 'web', redirectUris: [CALLBACK] });
  await services.close();

  const server = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
      if (i > 100) throw new Error('Gatehouse did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`Gatehouse on ${backend}; ${SECONDS}s per measurement, ${CONNECTIONS} connections, ${cpus().length} CPUs\n`);
    const basic = `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}`;
    const rows: Row[] = [];

    if (wanted('sign-in')) rows.push(await closedLoop('full sign-in (authorize, password, code exchange)', CONNECTIONS, async (w) => {
      await signIn(base, client.clientId, clientSecret!, users[w % users.length]!);
    }));

    // One refresh-token chain per connection: rotation makes every token single-use.
    if (wanted('refresh')) {
      const chains = await Promise.all(
        Array.from({ length: CONNECTIONS }, (_, w) => signIn(base, client.clientId, clientSecret!, users[w % users.length]!).then((t) => t.refresh_token)),
      );
      rows.push(await closedLoop('refresh_token grant (rotating)', CONNECTIONS, async (w) => {
        const res = await fetch(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[w]! }).toString(),
        });
        if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`);
        chains[w] = ((await res.json()) as { refresh_token: string }).refresh_token;
      }));
    }

    if (wanted('client-credentials')) rows.push(await cannon('client_credentials grant (JWT access token)', {
      url: `${base}/token`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }).toString(),
    }));
    if (wanted('jwks')) rows.push(await cannon('GET /jwks', { url: `${base}/jwks` }));
    if (wanted('discovery')) rows.push(await cannon('GET /.well-known/openid-configuration', { url: `${base}/.well-known/openid-configuration` }));
    if (wanted('argon2')) rows.push(await argon2Rate(config.argon2));
    const history = wanted('reuse-check') ? await historyCheck(config) : null;
    if (history) rows.push(history.row);

    const fmt = (n: number | null, d = 1) => (n === null ? '-' : n.toFixed(d));
    console.log(`${'measurement'.padEnd(52)} ${'ops/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'count'.padStart(8)} ${'errors'.padStart(7)}`);
    for (const r of rows) {
      console.log(`${r.name.padEnd(52)} ${fmt(r.perSecond).padStart(9)} ${fmt(r.p50ms).padStart(8)} ${fmt(r.p99ms).padStart(8)} ${String(r.count).padStart(8)} ${String(r.errors).padStart(7)}`);
    }
    const out = join(PROJECT_ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    if (history) console.log(`\nwhile checking a new password against 10 stored hashes: event loop delay p99 ${history.loopDelayP99Ms.toFixed(1)} ms, max ${history.loopDelayMaxMs.toFixed(1)} ms`);
    const result = {
      date: new Date().toISOString(),
      backend,
      seconds: SECONDS,
      connections: CONNECTIONS,
      argon2: config.argon2,
      rows,
      ...(ONLY ? { only: [...ONLY] } : {}),
      historyCheckEventLoopDelayMs: history ? { p99: history.loopDelayP99Ms, max: history.loopDelayMaxMs } : null,
    };
    writeFileSync(join(out, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwritten: bench/results/latest.json`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    const cleanup = await openServices(config, { migrate: false });
    if (config.database.kind === 'postgres') await cleanup.db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [config.database.schema]);
    if (cleanup.redis) {
      const keys = await cleanup.redis.keys(`${config.redis!.prefix}*`);
      if (keys.length) await cleanup.redis.del(...keys);
    }
    await cleanup.close();
    if (config.database.kind === 'sqlite') for (const s of ['', '-wal', '-shm']) rmSync(sqliteFile + s, { force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
