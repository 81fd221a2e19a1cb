/**
 * Several Gatehouse processes as one service, shared by the fleet tests (test/helpers/fleet.ts builds on
 * it) and `BENCH_NODES=3 npm run bench`: N `node dist/src/main.js` with one environment (one PostgreSQL
 * schema, one Redis prefix, the same COOKIE_KEYS and DATA_ENCRYPTION_KEY), each on its own loopback port,
 * behind a small round-robin HTTP proxy that is the issuer. The nodes trust the proxy
 * (TRUSTED_PROXIES=127.0.0.1) and the proxy sets X-Forwarded-For/-Proto/-Host as a load balancer would.
 *
 * `pin(i)` routes every request to node i until `pin(null)`, `pinNext(i)` the next request only, and the
 * `x-fleet-node: i` request header one request (the proxy honours and strips it). A node that was killed
 * is left out of the rotation until `restart(i)`; a request pinned to it, or in flight when it died, is
 * answered 502 like a load balancer would.
 *
 * Nothing here knows a test framework: the backend (schema, prefix, their cleanup) is the caller's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/paths.js';

export const PIN_HEADER = 'x-fleet-node';
const MAIN = join(PROJECT_ROOT, 'dist/src/main.js');

export interface SpawnedGatehouse {
  child: ChildProcess;
  /** Every JSON log line the process has written so far. */
  logs: Array<Record<string, unknown>>;
  /** Settles when the process has exited, whatever the way. */
  exited: Promise<void>;
  /** What the process has written to stderr so far. */
  stderr(): string;
}

export interface SpawnOptions {
  /** Node.js options before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Also write the process's stderr to this process's stderr as it comes. */
  echoStderr?: boolean;
}

/** Spawns `node dist/src/main.js` with exactly `env`; resolves once it logs that it is running (LOG_LEVEL info or lower). */
export async function spawnGatehouse(env: Record<string, string>, options: SpawnOptions = {}): Promise<SpawnedGatehouse> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let pending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (options.echoStderr) process.stderr.write(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'Gatehouse is running') resolve();
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`gatehouse exited with ${code ?? signal} before it was running: ${stderr}`)));
  });
  await running;
  return { child, logs, exited, stderr: () => stderr };
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface FleetNode {
  index: number;
  port: number;
  url: string;
  /** Whether the proxy sends requests to it. */
  up: boolean;
  /** Every JSON log line of the node's current process. */
  logs: Array<Record<string, unknown>>;
  process?: SpawnedGatehouse;
}

export interface ProxiedRequest {
  node: number;
  method: string;
  path: string;
  status: number;
}

export interface ProxiedFleet {
  /** The proxy's URL, which is every node's ISSUER. */
  issuer: string;
  nodes: FleetNode[];
  /** The environment every node was started with (PORT aside). */
  env: Record<string, string>;
  /** Every request the proxy forwarded, in order, with the node that served it (status 502: the node was gone); empty with `record: false`. */
  served: ProxiedRequest[];
  /** Requests the proxy forwarded to each node (502s included). */
  servedBy: number[];
  /** Routes every request to node i until `pin(null)`; `null` goes back to round robin. */
  pin(i: number | null): void;
  /** Routes the next request only to node i. */
  pinNext(i: number): void;
  /** Sends `signal` to node i (SIGKILL by default) and takes it out of the rotation at once; resolves when it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node i again on the same port (stopping it first if it runs) and puts it back in the rotation. */
  restart(i: number): Promise<void>;
  /** Stops every node (SIGTERM) and the proxy. */
  stop(): Promise<void>;
}

export interface ProxiedFleetOptions {
  /** How many nodes (3 by default). */
  nodes?: number;
  /**
   * The environment of every node: the backend (DATABASE_URL, DATABASE_SCHEMA, REDIS_URL, REDIS_KEY_PREFIX)
   * and anything else. ISSUER, HOST, TRUSTED_PROXIES and PORT are the fleet's; COOKIE_KEYS and
   * DATA_ENCRYPTION_KEY are drawn at random unless given. PATH is this process's unless given.
   */
  env: Record<string, string>;
  /** Extra environment for node i only (e.g. its own METRICS_PORT). */
  nodeEnv?(i: number): Record<string, string>;
  /** Keep every forwarded request in `served` (true by default; a benchmark counts them only). */
  record?: boolean;
  /** Keep connections from the proxy to the nodes open between requests (false by default: one per request). */
  keepAlive?: boolean;
  spawn?: SpawnOptions;
}

export async function startProxiedFleet(options: ProxiedFleetOptions): Promise<ProxiedFleet> {
  const count = options.nodes ?? 3;
  const record = options.record ?? true;
  const served: ProxiedRequest[] = [];
  const servedBy: number[] = Array.from({ length: count }, () => 0);
  let pinned: number | null = null;
  let pinnedOnce: number | null = null;
  let next = 0;

  // The proxy listens first: its URL is the issuer every node is given.
  const agent = new Agent({ keepAlive: options.keepAlive ?? false });
  const nodes: FleetNode[] = [];
  const proxy: Server = createServer((req, res) => forward(req, res));
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  function choose(req: IncomingMessage): number {
    const header = req.headers[PIN_HEADER];
    delete req.headers[PIN_HEADER];
    if (typeof header === 'string' && /^\d+$/.test(header)) return Number(header);
    if (pinnedOnce !== null) {
      const i = pinnedOnce;
      pinnedOnce = null;
      return i;
    }
    if (pinned !== null) return pinned;
    for (let tries = 0; tries < nodes.length; tries++) {
      const i = next++ % nodes.length;
      if (nodes[i]!.up) return i;
    }
    return 0;
  }

  function forward(req: IncomingMessage, res: ServerResponse) {
    const i = choose(req);
    const node = nodes[i];
    const entry: ProxiedRequest = { node: i, method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    if (record) served.push(entry);
    if (i < servedBy.length) servedBy[i]!++;
    const fail = () => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`node ${i} unavailable`);
    };
    if (!node || !node.up) {
      req.resume();
      fail();
      return;
    }
    const peer = req.socket.remoteAddress ?? '127.0.0.1';
    const headers = { ...req.headers };
    const previous = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = previous ? `${previous}, ${peer}` : peer;
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = req.headers.host ?? new URL(issuer).host;
    const upstream = httpRequest(
      { host: '127.0.0.1', port: node.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', fail);
    req.pipe(upstream);
  }

  const shared: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    COOKIE_KEYS: randomBytes(32).toString('hex'),
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    ...options.env,
    ISSUER: issuer,
    HOST: '127.0.0.1',
    TRUSTED_PROXIES: '127.0.0.1',
  };

  async function launch(node: FleetNode) {
    node.process = await spawnGatehouse({ ...shared, ...options.nodeEnv?.(node.index), PORT: String(node.port) }, options.spawn);
    node.logs = node.process.logs;
    node.up = true;
  }

  for (let i = 0; i < count; i++) {
    const port = await freePort();
    nodes.push({ index: i, port, url: `http://127.0.0.1:${port}`, up: false, logs: [] });
  }
  const stop = async () => {
    await Promise.all(nodes.map(async (n) => {
      n.up = false;
      if (n.process && n.process.child.exitCode === null && n.process.child.signalCode === null) {
        n.process.child.kill('SIGTERM');
        await n.process.exited;
      }
    }));
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    agent.destroy();
  };

  try {
    // All at once, as an orchestrator would start them: migrations, bootstrap and keys must not race.
    const launched = await Promise.allSettled(nodes.map(launch));
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop();
    throw err;
  }

  const kill = async (i: number, signal: NodeJS.Signals = 'SIGKILL') => {
    const node = nodes[i]!;
    node.up = false;
    if (!node.process) return;
    node.process.child.kill(signal);
    await node.process.exited;
  };

  return {
    issuer,
    nodes,
    env: shared,
    served,
    servedBy,
    pin(i) {
      pinned = i;
    },
    pinNext(i) {
      pinnedOnce = i;
    },
    kill,
    async restart(i) {
      const node = nodes[i]!;
      if (node.process && node.process.child.exitCode === null && node.process.child.signalCode === null) await kill(i, 'SIGTERM');
      await launch(node);
    },
    stop,
  };
}
