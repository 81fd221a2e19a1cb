import type { Knex } from 'knex';

/**
 * The one rule for counting failed attempts, applied by the same SQL to an account (accounts table)
 * and to an address without an account (attempt_counters table), so the two can never be told apart:
 *
 * - Every attempt is counted before the credential is checked (a success gives it back or clears it).
 * - The count lapses `windowSeconds` after the last counted attempt: the next attempt then counts 1.
 * - The attempt that brings the count to `threshold` locks until `windowSeconds` after it; while locked,
 *   attempts are refused, not counted, and do not extend the lock. The first attempt after the lock
 *   ends counts 1 (the lock is the lapse).
 *
 * One conditional UPDATE does all of it, so however many requests race (on however many nodes), at
 * most `threshold` attempts are taken within a window. The table needs `failed_attempts`,
 * `locked_until` and `last_attempt_at` (epoch seconds).
 */
export interface AttemptRule {
  threshold: number;
  now: number;
  windowSeconds: number;
}

/**
 * Applies the rule to the row(s) `rows` selects; true when the attempt was taken (not locked). With
 * `onLock`, the statement also returns the new lock, and `onLock` is called when this very attempt
 * brought the count to the threshold (it locks unless the credential turns out right).
 */
export async function takeAttemptOn(db: Knex, rows: Knex.QueryBuilder, rule: AttemptRule, onLock?: () => void): Promise<boolean> {
  const { threshold, now, windowSeconds } = rule;
  // Explicit casts: PostgreSQL cannot infer the type of a bare parameter inside CASE.
  const fresh =
    '((locked_until IS NOT NULL AND locked_until <= CAST(? AS BIGINT)) OR last_attempt_at IS NULL OR last_attempt_at <= CAST(? AS BIGINT))';
  const freshArgs = [now, now - windowSeconds];
  const update = rows
    .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', now))
    .andWhere((q) => q.where('failed_attempts', '<', threshold).orWhereRaw(fresh, freshArgs))
    .update({
      failed_attempts: db.raw(`CASE WHEN ${fresh} THEN 1 ELSE failed_attempts + 1 END`, freshArgs),
      // threshold is at least 2, so a fresh count never locks at once.
      locked_until: db.raw(
        `CASE WHEN ${fresh} THEN NULL WHEN failed_attempts + 1 >= CAST(? AS INTEGER) THEN CAST(? AS BIGINT) ELSE NULL END`,
        [...freshArgs, threshold, now + windowSeconds],
      ),
      last_attempt_at: now,
    });
  if (!onLock) return (await update) === 1;
  // A taken attempt leaves locked_until set only when it was the one that reached the threshold.
  const taken = (await update.returning('locked_until')) as Array<{ locked_until: unknown }>;
  if (taken.length === 1 && taken[0]!.locked_until !== null) onLock();
  return taken.length === 1;
}
