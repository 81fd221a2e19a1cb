import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { z } from 'zod';
import { fieldOf } from '../policy/security-policy.js';
import type { Services } from '../services/index.js';
import { authenticate } from './auth.js';
import { requestInfo } from '../http/request-info.js';
import { buildOpenApi } from './openapi.js';
import { problemMiddleware, problems } from './problem.js';
import { adminRoutes } from './routes/index.js';
import * as s from './schemas.js';

export const ADMIN_PREFIX = '/admin/v1';

export interface AdminDeps {
  provider: Provider;
  services: Services;
  logger: Logger;
  issuer: string;
  adminResource: string;
  trustedProxies: string[];
  bootstrapClientId?: string;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, prefix: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw problems.invalid(
    result.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => ({ field: fieldOf([prefix, ...i.path, k].filter(Boolean)), message: 'is not a known field' }))
        : [{ field: fieldOf([prefix, ...i.path].filter(Boolean)) || prefix || '(body)', message: i.message }],
    ),
  );
}

/**
 * The admin API: every route from the registry (routes.ts), each one authenticated, its query and
 * body validated against its schemas, errors answered as RFC 9457 problem documents.
 */
export function adminRouter(deps: AdminDeps): Router {
  const router = new Router({ prefix: ADMIN_PREFIX });
  const openapi = buildOpenApi(adminRoutes, { issuer: deps.issuer, prefix: ADMIN_PREFIX, adminResource: deps.adminResource });
  router.use(problemMiddleware(deps.logger));
  router.use(bodyParser({ enableTypes: ['json'], jsonLimit: '256kb', encoding: 'utf-8' }));

  router.get('/openapi.json', (ctx) => {
    ctx.body = openapi;
  });

  for (const route of adminRoutes) {
    const koaPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    router[route.method](koaPath, async (ctx) => {
      const principal = await authenticate(ctx, { ...deps, accounts: deps.services.accounts, clients: deps.services.clients, policies: deps.services.policies });
      const hasBody = route.body !== undefined;
      if (hasBody && ctx.request.length && !ctx.is('application/json')) {
        throw Object.assign(new Error('unsupported media type'), { status: 415 });
      }
      const result = await route.handler({
        principal,
        // @koa/router has already decoded them once (the input guard checked the escapes): never decode twice.
        params: parse(s.pathParamsOf(route.path), ctx.params, ''),
        query: route.query ? parse(route.query, ctx.query, '') : {},
        body: hasBody ? parse(route.body!, ctx.request.body ?? undefined, '') : undefined,
        request: requestInfo(ctx, deps.trustedProxies),
        services: deps.services,
        koa: ctx,
      });
      ctx.status = result.status;
      if (result.body !== undefined) ctx.body = result.body;
    });
  }
  return router;
}
