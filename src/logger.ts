import { pino, type DestinationStream, type Logger } from 'pino';
import { requestScopes } from './observability/request-context.js';

/**
 * JSON logs. Paths that could carry a secret are redacted as a second line of defence: we never log them on purpose.
 * A line logged while a request is served carries that request's id (`requestId`, also in the X-Request-Id
 * response header and on the audit events the request wrote); the request's own child logger has it bound already.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'gatehouse' },
    redact: {
      paths: ['password', '*.password', 'authorization', '*.authorization', 'cookie', '*.cookie', 'client_secret', '*.client_secret', 'token', '*.token'],
      censor: '[redacted]',
    },
    mixin(_object, _level, logger) {
      const scope = requestScopes.getStore();
      return scope && scope.logger !== logger ? { requestId: scope.id } : {};
    },
  }, destination);
}
