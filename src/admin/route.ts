import type { z } from 'zod';
import type { Context } from 'koa';
import type { RequestInfo } from '../services/audit.js';
import type { Services } from '../services/index.js';
import type { Principal } from './auth.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface HandlerContext {
  principal: Principal;
  params: Record<string, string>;
  query: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- typed by the route's query schema
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- typed by the route's body schema
  request: RequestInfo;
  services: Services;
  koa: Context;
}

export interface RouteResult {
  status: number;
  body?: unknown;
}

/** One admin endpoint: its contract (for validation and the OpenAPI document) and its handler. */
export interface AdminRoute {
  method: Method;
  /** OpenAPI style: /organizations/{orgId} */
  path: string;
  summary: string;
  tag: string;
  /** Who may call it, for the document; the handler enforces it. */
  access: 'platform' | 'organization admin' | 'platform or organization admin';
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Documented body, when validation is looser than the document (policy bodies are validated by the policy service). */
  bodyDoc?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler(c: HandlerContext): Promise<RouteResult>;
}

export const pathParams = (path: string): string[] => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
