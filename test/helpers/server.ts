import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { testBackend, type TestBackend } from './backend.js';

export interface RunningApp {
  app: App;
  issuer: string;
  backend: TestBackend;
  /** Stops the server and closes the database; `keepData` leaves the backend for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface StartAppOptions {
  /**
   * The host name the issuer uses (the server always binds 127.0.0.1). 'localhost' for browser tests:
   * WebAuthn refuses an IP address as RP ID, and http://localhost is a secure context in Chromium.
   */
  host?: '127.0.0.1' | 'localhost';
  /** The app's logger (default: JSON to stdout at LOG_LEVEL, silent in tests). */
  logger?: Logger;
}

/**
 * Boots the whole application in-process on an ephemeral loopback port, over real HTTP. The port is
 * bound first so the issuer can name it.
 */
export async function startApp(
  extraEnv: Record<string, string> = {},
  backend: TestBackend = testBackend(),
  options: StartAppOptions = {},
): Promise<RunningApp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const app = await createApp(backend.config({ ISSUER: issuer, ...extraEnv }), { logger: options.logger });
  server.on('request', app.provider.callback());
  return {
    app,
    issuer,
    backend,
    async stop(options = {}) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
      if (!options.keepData) await backend.cleanup();
    },
  };
}
