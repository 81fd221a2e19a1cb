import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './private-redis.js';

/**
 * Private Redis Clusters and Sentinel sets, started from Debian's redis-server on loopback ports for one
 * test file and killed after it: no persistence, never the shared Redis. Tests that need them skip, saying
 * so loudly, when redis-server (or redis-cli, for `--cluster create`) is missing.
 */
export const REDIS_TOOLS_MISSING = ['redis-server', 'redis-cli'].filter((tool) => spawnSync(tool, ['--version']).status !== 0);
export const REDIS_TOPOLOGY_SKIP = REDIS_TOOLS_MISSING.length
  ? `SKIPPED: Redis Cluster and Sentinel tests need ${REDIS_TOOLS_MISSING.join(' and ')} (Debian: apt-get install redis-server redis-tools)`
  : '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** One short-lived connection: a command to one server, sentinel or cluster node. */
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

async function canListen(port: number): Promise<boolean> {
  const probe = createNetServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10000))) {
      taken.add(port).add(port + 10000);
      return port;
    }
  }
  throw new Error('no free pair of ports for a cluster node');
}

class Servers {
  readonly children = new Map<number, ChildProcess>();
  readonly args = new Map<number, string[]>();
  readonly dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));

  async spawn(port: number, args: string[]): Promise<void> {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.children.set(port, child);
    this.args.set(port, args);
    await until(`redis-server on ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`);
      return (await ask(port, 'PING')) === 'PONG';
    });
  }

  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `masters` masters (and `replicasPerMaster` replicas each) on loopback. */
export class PrivateRedisCluster {
  private readonly servers = new Servers();
  ports: number[] = [];

  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  static async start(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<PrivateRedisCluster> {
    const cluster = new PrivateRedisCluster();
    try {
      await cluster.boot(options.masters ?? 3, options.replicasPerMaster ?? 0);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(masters: number, replicas: number): Promise<void> {
    const taken = new Set<number>();
    for (let i = 0; i < masters * (1 + replicas); i++) this.ports.push(await freeClusterPort(taken));
    const { dir } = this.servers;
    await Promise.all(
      this.ports.map((port) =>
        this.servers.spawn(port, [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000',
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
        ]),
      ),
    );
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // Every node must agree the cluster is up (slots covered, the configuration propagated).
    for (const port of this.ports) {
      await until(`cluster_state:ok on ${port}`, async () => String(await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
    }
  }

  /** SIGKILL one node: no goodbye to its clients or to the other nodes. */
  async kill(port: number): Promise<void> {
    await this.servers.kill(port);
  }

  /** Starts a killed node again on its port with its nodes file: it rejoins with its slots (empty). */
  async restart(port: number): Promise<void> {
    await this.servers.spawn(port, this.servers.args.get(port)!);
    for (const p of this.ports) {
      await until(`cluster_state:ok on ${p}`, async () => String(await ask(p, 'CLUSTER', 'INFO')).includes('cluster_state:ok'));
    }
  }

  async stop(): Promise<void> {
    await this.servers.stopAll();
  }
}

/** A master, one replica and `sentinels` sentinels monitoring them under the name `gatehouse`. */
export class PrivateSentinelSet {
  private readonly servers = new Servers();
  readonly name = 'gatehouse';
  dataPorts: number[] = [];
  sentinelPorts: number[] = [];

  get url(): string {
    return `redis+sentinel://${this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${this.name}`;
  }

  static async start(options: { sentinels?: number } = {}): Promise<PrivateSentinelSet> {
    const set = new PrivateSentinelSet();
    try {
      await set.boot(options.sentinels ?? 1);
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  private async boot(sentinels: number): Promise<void> {
    const [master, replica] = [await freePort(), await freePort()];
    this.dataPorts = [master!, replica!];
    const data = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.servers.dir];
    await this.servers.spawn(master!, data(master!));
    await this.servers.spawn(replica!, [...data(replica!), '--replicaof', '127.0.0.1', String(master)]);
    await until('the replica in sync', async () => String(await ask(replica!, 'INFO', 'replication')).includes('master_link_status:up'));
    for (let i = 0; i < sentinels; i++) {
      const port = await freePort();
      this.sentinelPorts.push(port);
      // A sentinel rewrites its configuration file: each gets its own.
      const file = join(this.servers.dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.servers.dir}`,
          `sentinel monitor ${this.name} 127.0.0.1 ${master} 1`,
          `sentinel down-after-milliseconds ${this.name} 2000`,
          `sentinel failover-timeout ${this.name} 10000`,
          '',
        ].join('\n'),
      );
      await this.servers.spawn(port, [file, '--sentinel']);
    }
    // Each sentinel has found the replica (through the master): only then can it fail over.
    for (const port of this.sentinelPorts) {
      await until(`sentinel ${port} to know the replica`, async () => ((await ask(port, 'SENTINEL', 'REPLICAS', this.name)) as unknown[]).length > 0);
    }
  }

  /** The port of the master the sentinels name now. */
  async masterPort(): Promise<number> {
    const [, port] = (await ask(this.sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    return Number(port);
  }

  /** SENTINEL FAILOVER, then waits until the replica is the master (and the sentinels say so). */
  async failover(): Promise<{ from: number; to: number }> {
    const from = await this.masterPort();
    const to = this.dataPorts.find((p) => p !== from)!;
    await ask(this.sentinelPorts[0]!, 'SENTINEL', 'FAILOVER', this.name);
    await until('the failover', async () => {
      if ((await this.masterPort()) !== to) return false;
      return String(await ask(to, 'INFO', 'replication')).includes('role:master');
    });
    return { from, to };
  }

  async stop(): Promise<void> {
    await this.servers.stopAll();
  }
}
