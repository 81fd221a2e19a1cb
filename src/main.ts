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
    app.logger.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`gatehouse: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
