import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './private-redis.js';

const run = promisify(execFile);

/** Where Debian puts the server binaries; PG_BIN overrides. */
function binDir(): string | undefined {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];
  return candidates.find((dir): dir is string => !!dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
}

/**
 * A throw-away PostgreSQL cluster a test starts, stops and restarts on a free loopback port (never the
 * shared one): initdb into a temporary directory, trust authentication, fsync off, loopback only.
 * PostgreSQL refuses to run as root: when the tests run as root (CI), initdb and the server run as
 * the `postgres` OS user through runuser, with the directory handed to it.
 * `PrivatePostgres.create()` answers a reason instead when no cluster can be made on this machine.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
    private readonly asPostgres: boolean,
  ) {}

  /** A new, initialised, not yet started cluster; or why there can be none here. */
  static async create(): Promise<PrivatePostgres | { skip: string }> {
    const bin = binDir();
    if (!bin) return { skip: 'no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin; set PG_BIN' };
    const root = userInfo().uid === 0;
    let uid: number | undefined;
    let gid: number | undefined;
    if (root) {
      try {
        uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
        gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
      } catch {
        return { skip: 'running as root and there is no `postgres` OS user to run PostgreSQL as' };
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
    if (uid !== undefined) chownSync(dir, uid, gid!);
    const cluster = new PrivatePostgres(await freePort(), dir, bin, root);
    try {
      await cluster.as('initdb', ['-D', cluster.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      return { skip: `initdb failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}` };
    }
    return cluster;
  }

  /** The cluster's data directory (postmaster.pid holds the server's pid). */
  get dataDir(): string {
    return this.data;
  }

  private get data(): string {
    return join(this.dir, 'data');
  }

  /** The cluster's default database, as the postgres superuser (trust). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private as(tool: string, args: string[]) {
    const path = join(this.bin, tool);
    return this.asPostgres ? run('runuser', ['-u', 'postgres', '--', path, ...args]) : run(path, args);
  }

  /**
   * Starts the server and waits until it accepts connections. fsync is off (only an operating-system
   * crash could lose data for it); commits stay synchronous, so a crash of the server loses nothing committed.
   */
  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    try {
      await this.as('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-o', options, '-w', '-t', '30', 'start']);
    } catch (err) {
      throw new Error(`private PostgreSQL on ${this.port} did not start: ${(err as Error).message}\n${this.log()}`);
    }
    // pg_ctl -w waits for the socket; also wait until a real connection over TCP is answered.
    for (let i = 0; ; i++) {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Stops the server. `fast` ends the sessions (clients see their connections terminated); `immediate`
   * aborts without a clean shutdown (crash recovery at the next start). Either way, what was committed stays.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!existsSync(join(this.data, 'postmaster.pid'))) return;
    await this.as('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '30', 'stop']);
  }

  /** Stops the server if it runs and removes the cluster. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The server's log so far (for failure messages). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }
}
