import type { RedisClient } from '../stores/redis/connection.js';
import type { Db } from '../stores/db.js';
import { sqlOperation, type Metrics } from './metrics.js';

/** The most statements timed at once; past it (a leak that should not happen) timings start afresh. */
const MAX_PENDING = 10_000;

/**
 * Times every SQL statement through knex's own events ('query' when it is sent, 'query-response' or
 * 'query-error' when it ends; transaction control statements carry no id and are not timed), and counts
 * failures to get a connection from the pool, which happen before any statement is sent.
 */
export function instrumentDb(db: Db, metrics: Metrics): void {
  if (!metrics.enabled) return;
  const started = new Map<string, number>();
  type Query = { __knexQueryUid?: string; method?: string };
  db.on('query', (q: Query) => {
    if (!q.__knexQueryUid) return;
    if (started.size >= MAX_PENDING) started.clear();
    started.set(q.__knexQueryUid, performance.now());
  });
  db.on('query-response', (_response: unknown, q: Query) => {
    const at = q.__knexQueryUid === undefined ? undefined : started.get(q.__knexQueryUid);
    if (at === undefined) return;
    started.delete(q.__knexQueryUid!);
    metrics.dbQuery(sqlOperation(q.method), (performance.now() - at) / 1000);
  });
  db.on('query-error', (_err: unknown, q: Query) => {
    if (q.__knexQueryUid !== undefined) started.delete(q.__knexQueryUid);
    metrics.dbError(sqlOperation(q.method));
  });
  const client = db.client as { acquireConnection(): Promise<unknown> };
  const acquire = client.acquireConnection.bind(client);
  client.acquireConnection = () =>
    acquire().catch((err: unknown) => {
      metrics.dbError('connect');
      throw err;
    });
}

type Command = { name: string; promise: Promise<unknown> };

/**
 * Times every Redis command from the moment it is handed to the client until its reply (or its
 * refusal: Redis down, timed out). All commands, pipelines' and transactions' included, pass through
 * the client's sendCommand.
 */
export function instrumentRedis(redis: RedisClient, metrics: Metrics): void {
  if (!metrics.enabled) return;
  const target = redis as unknown as { sendCommand(command: Command, ...rest: unknown[]): unknown };
  const send = target.sendCommand;
  target.sendCommand = function timedSendCommand(this: unknown, command: Command, ...rest: unknown[]) {
    const at = performance.now();
    const result = send.call(this, command, ...rest);
    command.promise.then(
      () => metrics.redisCommand(command.name, (performance.now() - at) / 1000, false),
      () => metrics.redisCommand(command.name, (performance.now() - at) / 1000, true),
    );
    return result;
  };
}
