import type { Db } from '../db.js';

export type AccountStatus = 'active' | 'disabled';

export interface AccountRecord {
  id: string;
  email: string;
  name: string | null;
  passwordHash: string;
  status: AccountStatus;
  passwordChangedAt: number;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  status: AccountStatus;
  password_changed_at: number;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): AccountRecord => ({
  id: r.id,
  email: r.email,
  name: r.name,
  passwordHash: r.password_hash,
  status: r.status,
  passwordChangedAt: r.password_changed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class DuplicateError extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'DuplicateError';
  }
}

/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class AccountStore {
  constructor(private readonly db: Db) {}

  async create(a: AccountRecord): Promise<void> {
    try {
      await this.db<Row>('accounts').insert({
        id: a.id,
        email: a.email,
        name: a.name,
        password_hash: a.passwordHash,
        status: a.status,
        password_changed_at: a.passwordChangedAt,
        created_at: a.createdAt,
        updated_at: a.updatedAt,
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('an account with this email');
      throw err;
    }
  }

  async findById(id: string): Promise<AccountRecord | undefined> {
    const row = await this.db<Row>('accounts').where({ id }).first();
    return row && toRecord(row);
  }

  /** `email` must already be normalized (see services/accounts normalizeEmail). */
  async findByEmail(email: string): Promise<AccountRecord | undefined> {
    const row = await this.db<Row>('accounts').where({ email }).first();
    return row && toRecord(row);
  }

  /** Replaces the stored hash of the same password (parameter upgrade); the password's age is unchanged. */
  async replaceHash(id: string, passwordHash: string, now: number): Promise<void> {
    await this.db<Row>('accounts').where({ id }).update({ password_hash: passwordHash, updated_at: now });
  }
}
