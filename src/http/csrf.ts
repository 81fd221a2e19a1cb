import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

const COOKIE = 'gh_csrf';

/**
 * CSRF protection for pages outside a sign-in flow (forgot/reset password, account): a random value
 * in a signed, HttpOnly, SameSite=Strict cookie that each form must echo (double submit).
 */
export function csrfToken(ctx: Context): string {
  const existing = ctx.cookies.get(COOKIE, { signed: true });
  if (existing && /^[\w-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  ctx.cookies.set(COOKIE, token, { signed: true, httpOnly: true, sameSite: 'strict', secure: ctx.secure, path: '/' });
  return token;
}

/** Whether a submitted value equals the expected secret, compared in constant time. */
export function sameSecret(expected: string | undefined, submitted: unknown): boolean {
  if (!expected || typeof submitted !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(submitted);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function csrfValid(ctx: Context, submitted: unknown): boolean {
  return sameSecret(ctx.cookies.get(COOKIE, { signed: true }), submitted);
}
