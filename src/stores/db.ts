import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { AppConfig } from '../config/index.js';
import { migrationSource } from '../../migrations/index.js';

export type Db = Knex;

// bigint columns hold epoch seconds, far inside Number's safe range: read them as numbers, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

interface SqliteConnection {
  pragma(s: string): unknown;
  prepare(sql: string): unknown;
}

/** How many distinct statements one SQLite connection keeps prepared (the app sends a few dozen). */
const PREPARED_STATEMENTS = 500;

/**
 * knex prepares every statement afresh on better-sqlite3 (about half of a point read's cost here); the
 * connection keeps the last PREPARED_STATEMENTS by their SQL text instead. knex runs each statement to
 * completion synchronously (`all` or `run`), so a cached statement is never in use twice at once, and
 * SQLite re-prepares one by itself when the schema changes under it.
 */
function reusePreparedStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn);
  const cache = new Map<string, unknown>();
  conn.prepare = (sql: string) => {
    let statement = cache.get(sql);
    if (statement !== undefined) {
      cache.delete(sql); // most recently used goes last
    } else {
      statement = prepare(sql);
      if (cache.size >= PREPARED_STATEMENTS) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, statement);
    return statement;
  };
}

/** Opens the SQL database named by the configuration (SQLite file or PostgreSQL). */
export function openDb(database: AppConfig['database']): Db {
  if (database.kind === 'sqlite') {
    if (database.filename !== ':memory:') mkdirSync(dirname(database.filename), { recursive: true });
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename: database.filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
          // WAL lets the CLI and the server share the file; busy_timeout waits out a writer instead of failing.
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('foreign_keys = ON');
          reusePreparedStatements(conn);
          done(null, conn);
        },
      },
    });
  }
  // Fail fast when PostgreSQL is away: a refused or dropped connection fails the query at once (see
  // services/dependencies.ts), and neither opening a connection nor waiting for a pooled one may take
  // longer than the timeout (knex would wait a minute). TCP keep-alive finds connections to a vanished host.
  return knexFactory({
    client: 'pg',
    connection: { connectionString: database.url, connectionTimeoutMillis: database.timeoutMs, keepAlive: true },
    searchPath: [database.schema],
    acquireConnectionTimeout: database.timeoutMs,
    pool: { min: 0, max: 10, createTimeoutMillis: database.timeoutMs },
  });
}

/**
 * Brings the schema up to date. Safe to run concurrently from several nodes: on PostgreSQL the whole
 * step runs under an advisory lock held by one pooled connection. knex's own migration lock is not
 * enough: nodes starting together on an empty schema raced on CREATE SCHEMA IF NOT EXISTS and on
 * creating knex's own tables (duplicate key in pg_namespace / pg_type), and knex refuses rather than
 * waits when its lock is taken, so a node failed to start.
 */
export async function migrate(db: Db, database: AppConfig['database']): Promise<string[]> {
  if (database.kind !== 'postgres') {
    const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
    return applied;
  }
  const schemaName = database.schema;
  return db.transaction(async (lock) => {
    await lock.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`gatehouse:migrate:${schemaName}`]);
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schemaName]);
    const [, applied] = (await db.migrate.latest({ migrationSource, schemaName })) as [number, string[]];
    return applied;
  });
}

/** Current time as epoch seconds: every timestamp column stores this, identically on both databases. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
