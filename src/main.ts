import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config/index.js';

/** `npm start`: read the environment, start Gatehouse, say where to go next. */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  await app.listen();
  const backend = `${config.database.kind === 'sqlite' ? `SQLite ${config.database.filename}` : 'PostgreSQL'}${config.redis ? ' + Redis' : ''}`;
  app.logger.info({ issuer: config.issuer, backend, metrics: app.metrics ? `${app.metrics.url}/metrics` : undefined }, 'Gatehouse is running');
  process.stdout.write(
    [
      '',
      `  Gatehouse is running on ${backend}.`,
      `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
      ...(app.metrics ? [`  Metrics:    ${app.metrics.url}/metrics`] : []),
      '  Next:       npx gatehouse user create --email you@example.com --password \'…\'',
      '              npx gatehouse client create --name "My app" --session-type web --redirect-uri http://localhost:8080/callback',
      '',
    ].join('\n') + '\n',
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const graceMs = config.shutdownGraceSeconds * 1000;
    app.logger.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'shutting down: no new connections, finishing requests in flight');
    // Closing the pools should take moments once the connections are gone; never hang on it.
    setTimeout(() => {
      app.logger.error({ signal }, 'shutdown did not finish in time: exiting anyway');
      process.exit(1);
    }, graceMs + 5000).unref();
    try {
      await app.close({ graceMs });
    } catch (err) {
      app.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    app.logger.info({ signal }, 'stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`gatehouse: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
