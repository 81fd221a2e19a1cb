import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { BOOTSTRAP_ID, BOOTSTRAP_SECRET } from './admin.js';
import { testBackend, type TestBackend } from './backend.js';
import { spawnGatehouse, type SpawnedGatehouse } from '../../bench/fleet.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export interface GatehouseProcess {
  issuer: string;
  backend: TestBackend;
  /** Every JSON log line the process has written so far. */
  logs: Array<Record<string, unknown>>;
  platformToken: string;
  /** The process itself (to signal it), and a promise that settles when it has exited. */
  child: ChildProcess;
  exited: Promise<void>;
  /** Calls the admin API with the platform token. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export { spawnGatehouse, type SpawnedGatehouse } from '../../bench/fleet.js';

/**
 * Gatehouse exactly as `npm start` runs it: `node dist/src/main.js` in its own process, configured
 * only through the environment. Unlike the in-process server, nothing of jest's module sandbox is in
 * the way, so oidc-provider's outgoing-request guard is installed as in production. Needs `npm run build`.
 */
export async function startGatehouseProcess(extraEnv: Record<string, string> = {}): Promise<GatehouseProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const backend = testBackend();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...backend.env,
    LOG_LEVEL: 'info',
    ISSUER: issuer,
    PORT: String(port),
    HOST: '127.0.0.1',
    GATEHOUSE_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_ID,
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_SECRET,
    ...extraEnv,
  };
  let spawned: SpawnedGatehouse;
  try {
    spawned = await spawnGatehouse(env);
  } catch (err) {
    await backend.cleanup();
    throw err;
  }
  const { child, logs, exited } = spawned;

  const platform = await client.discovery(new URL(issuer), BOOTSTRAP_ID, BOOTSTRAP_SECRET, client.ClientSecretBasic(BOOTSTRAP_SECRET), {
    execute: [client.allowInsecureRequests],
  });
  const platformToken = (await client.clientCredentialsGrant(platform, { scope: 'admin' })).access_token;

  return {
    issuer,
    backend,
    logs,
    platformToken,
    child,
    exited,
    async api(method, path, body) {
      const res = await fetch(`${issuer}/admin/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${platformToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await backend.cleanup();
    },
  };
}
