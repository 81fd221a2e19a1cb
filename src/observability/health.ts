import type { Context, Next } from 'koa';
import { migrationNames } from '../../migrations/index.js';
import type { Services } from '../services/index.js';

/** Longest a readiness check may take before it counts as failed (a database that does not answer makes knex wait a minute). */
const CHECK_TIMEOUT_MS = 2000;

type CheckResult = 'ok' | 'unreachable' | 'timeout' | 'pending' | 'skipped';

class CheckTimeout extends Error {}

async function within<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout()), ms);
  });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const failure = (err: unknown): CheckResult => (err instanceof CheckTimeout ? 'timeout' : 'unreachable');

export interface Readiness {
  ready: boolean;
  /** One entry per check: database, redis (when configured), migrations. */
  checks: Record<string, CheckResult>;
  /** Names of the checks that failed. */
  failing: string[];
  /** Migrations this build registers that the database has not applied. */
  pendingMigrations?: number;
}

/**
 * Whether this node can serve: the database answers, Redis answers (when configured), and every
 * migration this build registers has been applied (compared with knex's record of applied migrations).
 */
export async function readiness(services: Pick<Services, 'db' | 'redis'>, timeoutMs = CHECK_TIMEOUT_MS): Promise<Readiness> {
  const checks: Record<string, CheckResult> = {};
  let pendingMigrations: number | undefined;
  const database = within(timeoutMs, () => services.db.raw('select 1')).then(
    () => 'ok' as const,
    (err: unknown) => failure(err),
  );
  const redis = services.redis
    ? within(timeoutMs, () => services.redis!.ping()).then(
        () => 'ok' as const,
        (err: unknown) => failure(err),
      )
    : undefined;
  checks.database = await database;
  if (redis) checks.redis = await redis;
  if (checks.database === 'ok') {
    try {
      const applied = new Set((await within(timeoutMs, () => services.db('knex_migrations').select<{ name: string }[]>('name'))).map((r) => r.name));
      pendingMigrations = migrationNames.filter((name) => !applied.has(name)).length;
      checks.migrations = pendingMigrations === 0 ? 'ok' : 'pending';
    } catch (err) {
      checks.migrations = failure(err);
    }
  } else {
    checks.migrations = 'skipped';
  }
  const failing = Object.entries(checks)
    .filter(([, result]) => result !== 'ok' && result !== 'skipped')
    .map(([name]) => name);
  return { ready: failing.length === 0, checks, failing, ...(pendingMigrations ? { pendingMigrations } : {}) };
}

/**
 * GET /healthz: liveness. The process answers; nothing else is asked (a database or Redis outage is
 * not a reason to restart the process, and Gatehouse recovers from one on its own).
 * GET /readyz: readiness (see `readiness`): 200 with each check, or 503 naming the failing ones.
 */
export function healthEndpoints(services: Pick<Services, 'db' | 'redis'>) {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      const result = await readiness(services);
      ctx.set('Cache-Control', 'no-store');
      ctx.status = result.ready ? 200 : 503;
      ctx.body = {
        status: result.ready ? 'ready' : 'unavailable',
        checks: result.checks,
        ...(result.failing.length ? { failing: result.failing } : {}),
        ...(result.pendingMigrations ? { pendingMigrations: result.pendingMigrations } : {}),
      };
      return;
    }
    return next();
  };
}
