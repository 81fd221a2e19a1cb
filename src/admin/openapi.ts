import { z } from 'zod';
import { pathParams, type AdminRoute } from './route.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  void $schema;
  return rest;
};

/** The OpenAPI 3.1 document of the admin API, generated from the same route list and schemas that validate requests. */
export function buildOpenApi(routes: AdminRoute[], opts: { issuer: string; prefix: string; adminResource: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters = [
      ...pathParams(r.path).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(r.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: jsonSchema(schema as z.ZodType, 'input'),
      })),
    ];
    const body = r.bodyDoc ?? r.body;
    paths[r.path] ??= {};
    paths[r.path]![r.method] = {
      operationId: `${r.method}${r.path.replace(/\{(\w+)\}/g, 'By-$1').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: r.summary,
      description: `Access: ${r.access}.`,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: { required: !body.safeParse(undefined).success, content: { 'application/json': { schema: jsonSchema(body, 'input') } } } } : {}),
      responses: Object.fromEntries(
        Object.entries(r.responses).map(([status, res]) => [
          status,
          {
            description: res.description,
            ...(res.schema
              ? { content: { [Number(status) >= 400 ? 'application/problem+json' : 'application/json']: { schema: jsonSchema(res.schema, 'output') } } }
              : {}),
          },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse admin API',
      version: '1',
      description:
        'Organizations, domain claims, security policies, users, clients and the audit trail. Errors are RFC 9457 problem documents. ' +
        'A platform admin reaches everything. An organization\'s owners and admins reach only their organization, and of accounts only those on its verified domains plus members a platform admin added; any other account answers 404, as if it did not exist. ' +
        'They create and add only accounts on their verified domains. Only owners act on owners, and the last owner cannot be removed or demoted (409). ' +
        'Tokens come only from first-party clients, and a user\'s token is refused (403) from outside the IP whitelist of the policy that governs the user.',
    },
    servers: [{ url: `${opts.issuer}${opts.prefix}` }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: `An access token from ${opts.issuer}/token with scope "admin" for resource ${opts.adminResource}: client credentials for the platform-admin client, or a user's token (organization owners and admins).`,
        },
      },
    },
    paths,
  };
}
