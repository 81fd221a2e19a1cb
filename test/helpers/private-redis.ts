import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A throw-away redis-server a test starts, kills and restarts: loopback only, never the shared one.
 * No persistence by default; `persistent` keeps an append-only file fsynced on every write in a
 * temporary directory (as a production Redis holding sessions would), so what Redis acknowledged
 * survives a SIGKILL and a restart.
 */
export class PrivateRedis {
  private child?: ChildProcess;
  private readonly dir?: string;
  constructor(
    readonly port: number,
    options: { persistent?: boolean } = {},
  ) {
    if (options.persistent) this.dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  }

  static async onFreePort(options: { persistent?: boolean } = {}): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort(), options);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const persistence = this.dir ? ['--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence], {
      stdio: 'ignore',
    });
    this.child = child;
    const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${child.exitCode}`);
      try {
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        if ((await client.ping()) === 'PONG') break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const pong = await client.ping();
    client.disconnect();
    if (pong !== 'PONG') throw new Error(`redis-server on ${this.port} did not answer`);
  }

  /** SIGKILL: no goodbye to the clients. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its files (persistent mode). */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
