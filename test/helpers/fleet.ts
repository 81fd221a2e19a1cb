import * as client from 'openid-client';
import { PIN_HEADER, startProxiedFleet, type ProxiedFleet } from '../../bench/fleet.js';
import { BOOTSTRAP_ID, BOOTSTRAP_SECRET } from './admin.js';
import { PG_URL, REDIS_URL, testBackend, type TestBackend } from './backend.js';

/**
 * Several Gatehouse processes as one service for the fleet tests: the harness of bench/fleet.ts (N nodes,
 * default 3, on one PostgreSQL schema and one Redis prefix behind a round-robin proxy that is the issuer;
 * `pin`, `pinNext`, the `x-fleet-node` header, `kill`, `restart`, `served`), on this test file's own
 * backend, with the bootstrap platform client, its admin token and `api()` added.
 *
 * Needs PostgreSQL and Redis (`FLEET_BACKENDS`): SQLite and in-process memory cannot be shared.
 */
export const FLEET_BACKENDS = Boolean(PG_URL && REDIS_URL);
export const FLEET_SKIP_REASON = 'fleet tests need shared backends: set DATABASE_URL=postgres://… and REDIS_URL=redis://…';
export { PIN_HEADER };
export type { FleetNode, ProxiedRequest } from '../../bench/fleet.js';

export interface Fleet extends Omit<ProxiedFleet, 'env' | 'servedBy'> {
  backend: TestBackend;
  platformToken: string;
  /** The admin API through the proxy with the platform token; `node` pins this one call. */
  api(method: string, path: string, body?: unknown, options?: { node?: number; token?: string }): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface FleetOptions {
  nodes?: number;
  /** Extra environment for every node. */
  env?: Record<string, string>;
}

export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  if (!FLEET_BACKENDS) throw new Error(FLEET_SKIP_REASON);
  const backend = testBackend();
  let fleet: ProxiedFleet;
  try {
    fleet = await startProxiedFleet({
      nodes: options.nodes ?? 3,
      env: {
        ...backend.env,
        LOG_LEVEL: 'info',
        GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
        GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
        ...options.env,
      },
    });
  } catch (err) {
    await backend.cleanup();
    throw err;
  }
  const { issuer } = fleet;
  const stop = async () => {
    await fleet.stop();
    await backend.cleanup();
  };

  let platformToken: string;
  try {
    const platform = await client.discovery(new URL(issuer), BOOTSTRAP_ID, BOOTSTRAP_SECRET, client.ClientSecretBasic(BOOTSTRAP_SECRET), {
      execute: [client.allowInsecureRequests],
    });
    platformToken = (await client.clientCredentialsGrant(platform, { scope: 'admin' })).access_token;
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    issuer,
    nodes: fleet.nodes,
    backend,
    served: fleet.served,
    platformToken,
    pin: fleet.pin,
    pinNext: fleet.pinNext,
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
    kill: fleet.kill,
    restart: fleet.restart,
    stop,
  };
}
