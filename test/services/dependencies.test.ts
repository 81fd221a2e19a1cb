import { pino } from 'pino';
import { DependencyMonitor, DependencyUnavailableError, dependencyOf } from '../../src/services/dependencies.js';

/** Which failures count as "a backing service is down" (answered 503), and the once-per-outage log. */
describe('dependencyOf', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  const named = (name: string, message = 'x') => Object.assign(new Error(message), { name });

  it.each([
    ['the explicit error', new DependencyUnavailableError('redis'), 'redis'],
    ['an ioredis command timeout', new Error('Command timed out'), 'redis'],
    ['an ioredis refusal while disconnected', new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'redis'],
    ['an ioredis connection closed under a command', new Error('Connection is closed.'), 'redis'],
    ['ioredis giving up retries', named('MaxRetriesPerRequestError'), 'redis'],
    ['a Cluster with no slot map yet', new Error("Cluster isn't ready and enableOfflineQueue options is false"), 'redis'],
    ['a Cluster none of whose nodes answers', new Error('None of startup nodes is available'), 'redis'],
    ['a Cluster with slots uncovered', new Error('CLUSTERDOWN The cluster is down'), 'redis'],
    ['a Cluster redirecting past the limit', new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'), 'redis'],
    ['a master demoted by Sentinel', new Error("READONLY You can't write against a read only replica."), 'redis'],
    ['knex finding no connection in time', named('KnexTimeoutError', 'Knex: Timeout acquiring a connection.'), 'database'],
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'database'],
    ['PostgreSQL shutting down', withCode('terminating connection due to administrator command', '57P01'), 'database'],
    ['PostgreSQL not accepting connections yet', withCode('the database system is starting up', '57P03'), 'database'],
    ['a connection lost', new Error('Connection terminated unexpectedly'), 'database'],
    ['a connection lost under a knex query (knex prefixes the statement)', new Error('select * from "clients" where "client_id" = $1 limit $2 - Connection terminated unexpectedly'), 'database'],
    ['a wrapped cause', new Error('lookup failed', { cause: new Error('Command timed out') }), 'redis'],
  ])('recognises %s', (_label, err, expected) => {
    expect(dependencyOf(err)).toBe(expected);
  });

  it.each([
    ['an ordinary bug', new TypeError('x is undefined')],
    ['a constraint violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a non-error', 'Command timed out'],
    ['nothing', undefined],
  ])('does not take %s for an outage', (_label, err) => {
    expect(dependencyOf(err)).toBeUndefined();
  });
});

describe('DependencyMonitor', () => {
  it('logs an outage once when it starts and once when a probe finds the service back', async () => {
    const lines: Array<{ event?: string; dependency?: string; level: number }> = [];
    const monitor = new DependencyMonitor(pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) }), 20);
    let up = false;
    monitor.probe('redis', async () => {
      if (!up) throw new Error('Command timed out');
    });
    for (let i = 0; i < 5; i++) monitor.reportDown('redis', new Error('Command timed out'));
    expect(monitor.isDown('redis')).toBe(true);
    expect(monitor.isDown('database')).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(monitor.isDown('redis')).toBe(true); // the probe still fails
    up = true;
    for (let i = 0; i < 50 && monitor.isDown('redis'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(monitor.isDown('redis')).toBe(false);
    monitor.reportUp('redis');
    expect(lines.map((l) => l.event)).toEqual(['dependency.down', 'dependency.up']);
    expect(lines[0]).toMatchObject({ dependency: 'redis', level: 50 });

    // A second outage is logged again; after stop() (shutdown) nothing is.
    monitor.reportDown('redis');
    expect(lines.map((l) => l.event)).toEqual(['dependency.down', 'dependency.up', 'dependency.down']);
    monitor.stop();
    monitor.reportDown('database');
    expect(lines).toHaveLength(3);
  });
});
