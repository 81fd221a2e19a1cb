/** Client-side helpers shared by `npm run bench` (bench/run.ts) and `npm run bench:scale` (bench/scale.ts). */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '../src/config/index.js';
import { openServices } from '../src/services/index.js';

export const CALLBACK = 'http://127.0.0.1:9/callback';
export const PASSWORD = 'Bench-Pass-123';

export interface Row {
  name: string;
  perSecond: number;
  /** Server CPU milliseconds per operation, where measured. */
  cpuMsPerOp?: number | null;
  p50ms: number | null;
  p99ms: number | null;
  count: number;
  errors: number;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : null;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Slice {
  count: number;
  /** CPU seconds the target server used during the slice (null: not measured). */
  cpu?: number | null;
  errors: number;
  seconds: number;
  latencies?: number[];
  p50ms?: number | null;
  p99ms?: number | null;
}

/** Runs `op` from `concurrency` loops for `seconds`; each resolved call is one operation. */
export async function loopSlice(name: string, concurrency: number, op: (worker: number) => Promise<void>, seconds: number): Promise<Slice> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
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
  return { count: latencies.length, errors, seconds: (performance.now() - started) / 1000, latencies };
}

/** Slices of one target merged: exact percentiles for closed loops, the mean of the slices' for autocannon's. */
export function merge(name: string, slices: Slice[]): Row {
  const count = slices.reduce((n, s) => n + s.count, 0);
  const seconds = slices.reduce((n, s) => n + s.seconds, 0);
  const errors = slices.reduce((n, s) => n + s.errors, 0);
  let p50ms: number | null;
  let p99ms: number | null;
  if (slices.every((s) => s.latencies)) {
    const all = slices.flatMap((s) => s.latencies!).sort((x, y) => x - y);
    p50ms = percentile(all, 50);
    p99ms = percentile(all, 99);
  } else {
    const mean = (xs: number[]) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : null);
    p50ms = mean(slices.map((s) => s.p50ms ?? 0));
    p99ms = mean(slices.map((s) => s.p99ms ?? 0));
  }
  const cpu = slices.every((s) => typeof s.cpu === 'number') ? slices.reduce((n, s) => n + s.cpu!, 0) : null;
  return { name, perSecond: seconds ? count / seconds : 0, p50ms, p99ms, count, errors, cpuMsPerOp: cpu !== null && count ? (1000 * cpu) / count : null };
}

/** A cookie-keeping sign-in through the real pages, then the code exchange. Returns the token response. */
/** `afterEach`, when given, is awaited after every HTTP request with its method and path (bench:trace cuts its output there). */
export async function signIn(
  base: string,
  clientId: string,
  secret: string,
  email: string,
  options: { password?: string; scope?: string; afterEach?: (request: string) => Promise<void> } = {},
) {
  const { afterEach } = options;
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    if (afterEach) {
      await res.clone().arrayBuffer();
      await afterEach(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
    }
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
    scope: options.scope ?? 'openid offline_access',
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
    body: new URLSearchParams({ csrf, email, password: options.password ?? PASSWORD }).toString(),
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
  if (afterEach) {
    await token.clone().arrayBuffer();
    await afterEach('POST /token');
  }
  if (token.status !== 200) throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`);
  return (await token.json()) as { refresh_token: string; access_token: string };
}

export async function waitHealthy(base: string, what: string) {
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) return;
    if (i > 150) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


/**
 * The environment of a Gatehouse started by a bench script: on loopback at `port`, quiet, and on
 * throw-away storage named by `tag` (a SQLite file in the temporary directory, or a PostgreSQL schema
 * and a Redis key prefix when DATABASE_URL / REDIS_URL name them). `extra` is added last.
 */
export function benchEnvironment(tag: string, port: number, extra: Record<string, string> = {}): { env: Record<string, string>; sqliteFile: string } {
  const sqliteFile = join(tmpdir(), `gatehouse-${tag}.db`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${sqliteFile}`,
    ...(process.env.DATABASE_URL?.startsWith('postgres') ? { DATABASE_SCHEMA: `gh_${tag}` } : {}),
    ...(process.env.REDIS_URL ? { REDIS_KEY_PREFIX: `gh:${tag}:` } : {}),
    ...extra,
  };
  return { env, sqliteFile };
}

/** Removes what a bench run stored: its PostgreSQL schema, its Redis keys, its SQLite file. */
export async function removeBenchData(config: AppConfig, sqliteFile?: string): Promise<void> {
  const cleanup = await openServices(config, { migrate: false });
  if (config.database.kind === 'postgres') await cleanup.db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [config.database.schema]);
  if (cleanup.redis) {
    const keys = await cleanup.redis.keys(`${config.redis!.prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await cleanup.redis.del(...keys.slice(i, i + 1000));
  }
  await cleanup.close();
  if (config.database.kind === 'sqlite' && sqliteFile) for (const s of ['', '-wal', '-shm']) rmSync(sqliteFile + s, { force: true });
}
