import { createHash } from 'node:crypto';
import { nowSeconds, type Db } from '../db.js';
import { takeAttemptOn, type AttemptRule } from './attempt-counting.js';

/** The key of an address's counter: no email is stored in clear for an address that has no account. */
const subjectOf = (email: string) => createHash('sha256').update(email).digest('hex');

/**
 * Failed sign-in counts of addresses that have no account, by the same rule and the same SQL as
 * accounts' own counts (attempt-counting.ts), so a lock tells nothing about whether an account exists.
 * Kept in the SQL database every node shares, like the accounts' counts.
 */
export class AttemptCounterStore {
  constructor(private readonly db: Db) {}

  /** `email` must already be normalized. True when the attempt was taken; false while locked. `onLock`: see takeAttemptOn. */
  async takeAttempt(email: string, rule: AttemptRule, onLock?: () => void): Promise<boolean> {
    const subject = subjectOf(email);
    // A missing row and a lapsed row count the same way (the next attempt counts 1), so the sweep may
    // delete a lapsed row at any time; if it did so between these two statements, the row is made again.
    for (let tries = 0; tries < 3; tries++) {
      await this.db('attempt_counters').insert({ subject, failed_attempts: 0 }).onConflict('subject').ignore();
      if (await takeAttemptOn(this.db, this.db('attempt_counters').where({ subject }), rule, onLock)) return true;
      if (await this.db('attempt_counters').where({ subject }).first()) return false;
    }
    throw new Error('attempt counter row vanished three times');
  }

  /** When the address's lock ends (epoch seconds), or null when it is not locked. `email` normalized. */
  async lockedUntil(email: string): Promise<number | null> {
    const row = (await this.db('attempt_counters').where({ subject: subjectOf(email) }).first('locked_until')) as { locked_until: unknown } | undefined;
    const until = row?.locked_until === null || row?.locked_until === undefined ? null : Number(row.locked_until);
    return until !== null && until > nowSeconds() ? until : null;
  }

  /** Deletes counters that have lapsed (no attempt for `windowSeconds`, not locked): they would count afresh anyway. */
  async sweep(now: number, windowSeconds: number): Promise<number> {
    return this.db('attempt_counters')
      .where((q) => q.whereNull('last_attempt_at').orWhere('last_attempt_at', '<=', now - windowSeconds))
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', now))
      .delete();
  }
}
