import * as querystring from 'node:querystring';
import type { Context, Next } from 'koa';
import { PROBLEM_TYPE, problems, type Problem } from '../admin/problem.js';
import { render } from '../interaction/views.js';
import type { FieldProblem } from '../services/errors.js';

/**
 * Every text input (path, query string, form or JSON body) is checked here, once, before any router,
 * page or oidc-provider route sees it, the same way on every backend: it must be valid UTF-8 (no bad
 * bytes, no bad percent-escapes, no lone surrogates), free of control characters and of reasonable
 * length. A refusal is a 400 in the caller's language: a problem document for the admin API, the error
 * page for browser pages, an OAuth error for the other oidc-provider endpoints. Nothing behind it ever
 * sees such input, so no database can choke on it (PostgreSQL refuses NUL in text) or store it.
 *
 * Passwords are the exception for control characters: they may hold any character except NUL (and,
 * like everything else, no lone surrogates), so that no password that worked before stops working.
 */

/** A field name is a password (sign-in, reset, account, admin create-user) when it mentions "password". */
const isPasswordField = (name: string) => /password/i.test(name);

/** Textareas, one entry per line (the console's IP whitelist, a client's redirect URIs): line breaks are their separators, other controls are refused. */
const MULTILINE_FIELDS = new Set(['login.ipWhitelist.cidrs', 'redirect_uris']);
const LINE_BREAKS = /\r\n?|\n/g;

/** Most values are short; tokens and signed JWTs (id_token_hint, client assertions) may be longer. */
export const MAX_TEXT = 4096;
export const MAX_LONG_TEXT = 16384;
const LONG_FIELDS = new Set(['id_token_hint', 'client_assertion', 'request', 'token', 'logout_token', 'refresh_token', 'code']);
const MAX_NAME = 256;
const MAX_PATH = 2048;
const MAX_DEPTH = 32;
const FORM_LIMIT = 64 * 1024;
const JSON_LIMIT = 256 * 1024;

// C0 controls, DEL and C1 controls. Only NUL for passwords.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const NUL = /\u0000/;
// With the u flag, \p{Cs} matches only unpaired surrogates: a valid pair is read as one code point.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why a piece of text is refused, or undefined when it is fine. Shared with the admin API's zod schemas. */
export function textProblem(value: string, options: { password?: boolean; max?: number } = {}): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode text';
  if ((options.password ? NUL : CONTROL).test(value)) return 'must not contain control characters';
  const max = options.max ?? MAX_TEXT;
  if (value.length > max) return `must be at most ${max} characters`;
  return undefined;
}

/** The problem with one named value, if any: its name is text too. */
function fieldProblem(field: string, name: string, value: string): FieldProblem | undefined {
  const nameProblem = textProblem(name, { max: MAX_NAME });
  if (nameProblem) return { field: '(field name)', message: nameProblem };
  if (MULTILINE_FIELDS.has(name)) value = value.replace(LINE_BREAKS, ' ');
  const password = isPasswordField(name);
  // Passwords get the long limit so that an overlong one is refused like any wrong password, by the form itself.
  const message = textProblem(value, { password, max: password || LONG_FIELDS.has(name) ? MAX_LONG_TEXT : MAX_TEXT });
  return message ? { field, message } : undefined;
}

/** decodeURIComponent that reports failure instead of throwing (bad escapes, escapes that are not UTF-8). */
function strictDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * application/x-www-form-urlencoded (query strings and form bodies), split and decoded strictly: a bad
 * escape is refused, where querystring would silently keep it or turn bad bytes into U+FFFD.
 */
export function checkUrlEncoded(raw: string): FieldProblem | undefined {
  if (!raw) return undefined;
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = strictDecode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = strictDecode((eq < 0 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
    if (name === undefined) return { field: '(field name)', message: 'is not valid percent-encoded UTF-8' };
    if (value === undefined) return { field: name, message: 'is not valid percent-encoded UTF-8' };
    const problem = fieldProblem(name, name, value);
    if (problem) return problem;
  }
  return undefined;
}

/** The path: valid percent-escapes of UTF-8, no control characters once decoded, bounded length. */
export function checkPath(rawPath: string): FieldProblem | undefined {
  if (rawPath.length > MAX_PATH) return { field: 'path', message: `must be at most ${MAX_PATH} characters` };
  const decoded = strictDecode(rawPath);
  if (decoded === undefined) return { field: 'path', message: 'is not valid percent-encoded UTF-8' };
  const message = textProblem(decoded, { max: MAX_PATH });
  return message ? { field: 'path', message } : undefined;
}

/**
 * Every key and string of a parsed JSON document (JSON escapes can carry lone surrogates and NUL),
 * walked without recursion so that deep nesting cannot overflow the stack. Fields are named as the
 * admin API names them: policy.login.ipWhitelist.cidrs.0.
 */
export function checkJson(document: unknown): FieldProblem | undefined {
  const pending: Array<{ value: unknown; path: string[] }> = [{ value: document, path: [] }];
  while (pending.length) {
    const { value, path } = pending.pop()!;
    const field = path.join('.') || '(body)';
    const name = path[path.length - 1] ?? '';
    if (typeof value === 'string') {
      const problem = fieldProblem(field, name, value);
      if (problem) return problem;
    } else if (value !== null && typeof value === 'object') {
      if (path.length >= MAX_DEPTH) return { field, message: 'is nested too deeply' };
      for (const [key, child] of Object.entries(value)) {
        const nameProblem = textProblem(key, { max: MAX_NAME });
        if (nameProblem) return { field: '(field name)', message: nameProblem };
        pending.push({ value: child, path: [...path, key] });
      }
    }
  }
  return undefined;
}

/** Refusals carry a status: 400 for bad text, 413 and 415 for bodies the guard will not read. */
class InputRefused extends Error {
  constructor(
    readonly status: number,
    readonly problem: FieldProblem,
  ) {
    super(`${problem.field} ${problem.message}`);
  }
}

const NOT_JSON = 'is not valid JSON';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const JSON_TYPES = ['application/json', 'application/*+json', 'application/csp-report'];

async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) throw new InputRefused(413, { field: '(body)', message: 'is too large' });
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of ctx.req) {
    received += (chunk as Buffer).length;
    if (received > limit) throw new InputRefused(413, { field: '(body)', message: 'is too large' });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, received);
}

/**
 * The body has been read: let the next reader of the request stream (oidc-provider's own body parser)
 * read the same validated bytes again, so that it parses exactly what was checked.
 */
function replay(ctx: Context, body: Buffer): void {
  const req = ctx.req as unknown as Record<string | symbol, unknown>;
  const chunks = async function* () {
    if (body.length) yield body;
  };
  Object.defineProperty(req, 'readable', { value: true, configurable: true });
  req.iterator = chunks;
  req[Symbol.asyncIterator] = chunks;
}

/**
 * Reads, decodes (strict UTF-8), checks and hands on a form or JSON body: parsed, as ctx.request.body,
 * to Gatehouse's routers (their body parsers then have nothing left to do), and as the same bytes to
 * oidc-provider. Other bodies are not text inputs here: each route refuses them itself.
 */
async function guardBody(ctx: Context): Promise<void> {
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method)) return;
  const form = Boolean(ctx.is(FORM_TYPE));
  const json = !form && Boolean(ctx.is(JSON_TYPES));
  if (!form && !json) return;
  const charset = (ctx.request.charset || 'utf-8').toLowerCase();
  if (charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new InputRefused(415, { field: '(body)', message: 'must be UTF-8' });
  }
  const raw = await readBody(ctx, form ? FORM_LIMIT : JSON_LIMIT);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new InputRefused(400, { field: '(body)', message: 'is not valid UTF-8' });
  }
  let parsed: unknown = {};
  if (form) {
    const problem = checkUrlEncoded(text);
    if (problem) throw new InputRefused(400, problem);
    parsed = { ...querystring.parse(text) };
  } else if (text.trim()) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // Objects and arrays only, as the body parser it stands in front of (co-body, strict) accepts.
    if (parsed === null || typeof parsed !== 'object') throw new InputRefused(400, { field: '(body)', message: NOT_JSON });
    const problem = checkJson(parsed);
    if (problem) throw new InputRefused(400, problem);
  }
  ctx.request.body = parsed;
  replay(ctx, raw);
}

/** Browser-facing paths get the error page; the admin API a problem document; other endpoints an OAuth error. */
const PAGE_PATHS = /^\/(auth|session\/end|interaction|password|account|invitation)(\/|$)/;
const ADMIN_PATH = /^\/admin(\/|$)/;

/** The admin API's problem documents (src/admin/problem.ts) for what the guard refuses. */
function adminProblem({ status, problem }: InputRefused): Problem {
  if (status === 413) return { type: PROBLEM_TYPE('too-large'), title: 'Payload too large', status, detail: 'the body is too large' };
  if (status === 415) return { type: PROBLEM_TYPE('unsupported-media-type'), title: 'Unsupported media type', status, detail: 'send UTF-8 application/json' };
  if (problem.message === NOT_JSON) return problems.badJson().problem;
  return problems.invalid([problem]).problem;
}

async function answer(ctx: Context, refused: InputRefused): Promise<void> {
  const { status, problem } = refused;
  const detail = problem.field.startsWith('(') ? `${problem.field.slice(1, -1)} ${problem.message}` : `${problem.field} ${problem.message}`;
  ctx.set('Cache-Control', 'no-store');
  if (ADMIN_PATH.test(ctx.path)) {
    ctx.status = status;
    ctx.type = 'application/problem+json';
    ctx.body = adminProblem(refused);
    return;
  }
  if (PAGE_PATHS.test(ctx.path)) {
    await render(
      ctx,
      'error',
      { message: `The request could not be accepted: ${detail}. Go back, correct it and try again.`, code: 'invalid_request' },
      status,
    );
    return;
  }
  ctx.status = status;
  ctx.body = { error: 'invalid_request', error_description: detail };
}

/** The koa middleware: path, query and body, in that order; the first problem found is the answer. */
export function inputGuard() {
  return async (ctx: Context, next: Next) => {
    try {
      const problem = checkPath(ctx.path) ?? checkUrlEncoded(ctx.querystring);
      if (problem) throw new InputRefused(400, problem);
      await guardBody(ctx);
    } catch (err) {
      if (!(err instanceof InputRefused)) throw err;
      await answer(ctx, err);
      return;
    }
    await next();
  };
}
