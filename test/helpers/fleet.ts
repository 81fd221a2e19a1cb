import { randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { BOOTSTRAP_ID, BOOTSTRAP_SECRET } from './admin.js';
import { PG_URL, REDIS_URL, testBackend, type TestBackend } from './backend.js';
import { freePort, spawnGatehouse, type SpawnedGatehouse } from './process.js';

/**
 * Several Gatehouse processes as one service: N (default 3) `node dist/src/main.js` on one PostgreSQL
 * schema and one Redis prefix, with the same COOKIE_KEYS and DATA_ENCRYPTION_KEY, each on its own
 * loopback port, behind a small round-robin HTTP proxy that is the issuer. The nodes trust the proxy
 * (TRUSTED_PROXIES=127.0.0.1) and the proxy sets X-Forwarded-For/-Proto/-Host as a load balancer would.
 *
 * A test chooses which node serves a request with `fleet.pin(i)` (every request until `pin(null)`),
 * `fleet.pinNext(i)` (the next request only), or the `x-fleet-node: i` request header, which the proxy
 * honours and strips. A node that was killed is left out of the rotation until `restart(i)`; a request
 * pinned to it, or in flight when it died, is answered 502 like a load balancer would.
 *
 * Needs PostgreSQL and Redis (`FLEET_BACKENDS`): SQLite and in-process memory cannot be shared.
 */
export const FLEET_BACKENDS = Boolean(PG_URL && REDIS_URL);
export const FLEET_SKIP_REASON = 'fleet tests need shared backends: set DATABASE_URL=postgres://… and REDIS_URL=redis://…';
export const PIN_HEADER = 'x-fleet-node';

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

export interface Fleet {
  /** The proxy's URL, which is every node's ISSUER. */
  issuer: string;
  nodes: FleetNode[];
  backend: TestBackend;
  /** Every request the proxy forwarded, in order, with the node that served it (status 502: the node was gone). */
  served: ProxiedRequest[];
  platformToken: string;
  /** Routes every request to node i until `pin(null)`; `null` goes back to round robin. */
  pin(i: number | null): void;
  /** Routes the next request only to node i. */
  pinNext(i: number): void;
  /** The admin API through the proxy with the platform token; `node` pins this one call. */
  api(method: string, path: string, body?: unknown, options?: { node?: number; token?: string }): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Sends `signal` to node i (SIGKILL by default) and takes it out of the rotation at once; resolves when it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node i again on the same port (stopping it first if it runs) and puts it back in the rotation. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FleetOptions {
  nodes?: number;
  /** Extra environment for every node. */
  env?: Record<string, string>;
}

export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  if (!FLEET_BACKENDS) throw new Error(FLEET_SKIP_REASON);
  const count = options.nodes ?? 3;
  const backend = testBackend();
  const served: ProxiedRequest[] = [];
  let pinned: number | null = null;
  let pinnedOnce: number | null = null;
  let next = 0;

  // The proxy listens first: its URL is the issuer every node is given.
  const agent = new Agent({ keepAlive: false });
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
    const record: ProxiedRequest = { node: i, method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    served.push(record);
    const fail = () => {
      record.status = 502;
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
        record.status = answer.statusCode ?? 0;
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
    ...backend.env,
    LOG_LEVEL: 'info',
    ISSUER: issuer,
    HOST: '127.0.0.1',
    TRUSTED_PROXIES: '127.0.0.1',
    COOKIE_KEYS: randomBytes(32).toString('hex'),
    DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
    ...options.env,
  };

  async function launch(node: FleetNode) {
    node.process = await spawnGatehouse({ ...shared, PORT: String(node.port) });
    node.logs = node.process.logs;
    node.up = true;
  }

  for (let i = 0; i < count; i++) {
    const port = await freePort();
    nodes.push({ index: i, port, url: `http://127.0.0.1:${port}`, up: false, logs: [] });
  }
  const stopAll = async () => {
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
    await backend.cleanup();
  };

  let platformToken: string;
  try {
    // All at once, as an orchestrator would start them: migrations, bootstrap and keys must not race.
    const launched = await Promise.allSettled(nodes.map(launch));
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const platform = await client.discovery(new URL(issuer), BOOTSTRAP_ID, BOOTSTRAP_SECRET, client.ClientSecretBasic(BOOTSTRAP_SECRET), {
      execute: [client.allowInsecureRequests],
    });
    platformToken = (await client.clientCredentialsGrant(platform, { scope: 'admin' })).access_token;
  } catch (err) {
    await stopAll();
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
    backend,
    served,
    platformToken,
    pin(i) {
      pinned = i;
    },
    pinNext(i) {
      pinnedOnce = i;
    },
    async api(method, path, body, opts = {}) {
      const token = opts.token ?? platformToken;
      const res = await fetch(`${issuer}/admin/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(opts.node !== undefined ? { [PIN_HEADER]: String(opts.node) } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (a 502 from the proxy): keep the text
      }
      return { status: res.status, body: parsed };
    },
    kill,
    async restart(i) {
      const node = nodes[i]!;
      if (node.process && node.process.child.exitCode === null && node.process.child.signalCode === null) await kill(i, 'SIGTERM');
      await launch(node);
    },
    stop: stopAll,
  };
}
