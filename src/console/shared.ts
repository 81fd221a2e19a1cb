import type { Context } from 'koa';
import { m } from '../i18n/message.js';
import { render } from '../interaction/views.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';

/**
 * The administrator, the organization in the path, and (for a form) a valid CSRF token; undefined once
 * answered. `platformOnly`: the platform's pages. The admin API refuses everyone else too, but an
 * organization's admin may list their own organization there: the platform's pages are not theirs, so
 * they are refused here before anything is read.
 */
export async function guard(deps: ConsolePageDeps, ctx: Context, form: boolean, platformOnly = false): Promise<{ user: ConsoleUser; orgId: string } | undefined> {
  const user = await deps.requireAdmin(ctx);
  if (!user) return undefined;
  if (platformOnly && user.principal.kind !== 'platform') {
    await render(ctx, 'error', { message: m('Only platform administrators may open this page.'), code: null, hint: false }, 403);
    return undefined;
  }
  if (form && !(await deps.checkCsrf(ctx, user))) return undefined;
  return { user, orgId: ctx.params.orgId! };
}

/** A posted form's field, trimmed ('' when missing). */
export function field(ctx: Context, name: string): string {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
}

/** A query parameter, trimmed ('' when missing or repeated). */
export const queryField = (ctx: Context, name: string): string => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string).trim() : '');

type Page<T> = { items: T[]; nextCursor: string | null };

/** Every page of a paged admin route, one after another (`read` is called with the cursor and the largest page size). */
export async function* eachPage<T>(read: (query: Record<string, unknown>) => Promise<unknown>, query: Record<string, unknown> = {}): AsyncGenerator<T[]> {
  let cursor: string | undefined;
  do {
    const page = (await read({ ...query, limit: 200, ...(cursor ? { cursor } : {}) })) as Page<T>;
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Every item of a paged admin route. */
export async function allPages<T>(read: (query: Record<string, unknown>) => Promise<unknown>, query: Record<string, unknown> = {}): Promise<T[]> {
  const all: T[] = [];
  for await (const items of eachPage<T>(read, query)) all.push(...items);
  return all;
}
