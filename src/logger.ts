import { pino, type Logger } from 'pino';

/** JSON logs. Paths that could carry a secret are redacted as a second line of defence: we never log them on purpose. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'gatehouse' },
    redact: {
      paths: ['password', '*.password', 'authorization', '*.authorization', 'cookie', '*.cookie', 'client_secret', '*.client_secret', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}
