import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { ConflictError, ForbiddenError, NotFoundError, PolicyUnreadableError, UnprocessableError, ValidationError, type FieldProblem } from '../services/errors.js';
import { dependencyOf } from '../services/dependencies.js';

/** RFC 9457 problem details. `type` names the kind of problem; `errors` lists offending fields. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

export const PROBLEM_TYPE = (name: string) => `urn:gatehouse:problem:${name}`;
const TYPE = PROBLEM_TYPE;

export class HttpProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

export const problems = {
  unauthorized: (detail = 'a valid Bearer access token is required') =>
    new HttpProblem({ type: TYPE('unauthorized'), title: 'Unauthorized', status: 401, detail }),
  forbidden: (detail: string) => new HttpProblem({ type: TYPE('forbidden'), title: 'Forbidden', status: 403, detail }),
  invalid: (errors: FieldProblem[], detail = 'the request is not valid') =>
    new HttpProblem({ type: TYPE('validation'), title: 'Invalid request', status: 400, detail, errors }),
  badJson: () => new HttpProblem({ type: TYPE('invalid-json'), title: 'Invalid JSON', status: 400, detail: 'the body is not valid JSON' }),
  notFound: (detail: string) => new HttpProblem({ type: TYPE('not-found'), title: 'Not found', status: 404, detail }),
};

function toProblem(err: unknown): Problem | undefined {
  if (err instanceof HttpProblem) return err.problem;
  if (err instanceof ValidationError) return problems.invalid(err.errors).problem;
  if (err instanceof NotFoundError) return problems.notFound(err.message).problem;
  if (err instanceof ForbiddenError) return problems.forbidden(err.message).problem;
  if (err instanceof ConflictError) return { type: TYPE('conflict'), title: 'Conflict', status: 409, detail: err.message };
  if (err instanceof UnprocessableError) {
    return { type: TYPE('unprocessable'), title: 'Unprocessable', status: 422, detail: err.message, ...err.details };
  }
  if (err instanceof PolicyUnreadableError) {
    // Said plainly: sign-ins under this policy are refused until it is replaced (PUT), never run under the defaults.
    return {
      type: TYPE('policy-unreadable'),
      title: 'Stored security policy cannot be read',
      status: 503,
      detail: `${err.message}. The sign-ins it governs are refused (503) until it is replaced with PUT.`,
      subject: err.subject,
      reason: err.reason,
    };
  }
  const status = (err as { status?: number; expose?: boolean }).status;
  if (status === 413) return { type: TYPE('too-large'), title: 'Payload too large', status, detail: 'the body is too large' };
  if (status === 415) return { type: TYPE('unsupported-media-type'), title: 'Unsupported media type', status, detail: 'send application/json' };
  if (status === 400 && (err as Error).name === 'SyntaxError') return problems.badJson().problem;
  return undefined;
}

/** Turns every error below it into a problem document; unexpected ones are logged and answered 500. */
export function problemMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw problems.notFound(`no route ${ctx.method} ${ctx.path}`);
    } catch (err) {
      // A backing service down is answered 503 by the app-wide handler (src/http/unavailable.ts).
      if (dependencyOf(err)) throw err;
      let problem = toProblem(err);
      if (!problem) {
        logger.error({ err, path: ctx.path }, 'admin API error');
        problem = { type: TYPE('internal'), title: 'Internal error', status: 500, detail: 'something went wrong; it has been logged' };
      }
      ctx.status = problem.status;
      ctx.type = 'application/problem+json';
      ctx.body = problem;
      if (problem.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="gatehouse-admin"');
    }
  };
}
