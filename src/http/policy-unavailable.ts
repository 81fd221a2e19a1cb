import type { Context, Next } from 'koa';
import { render } from '../interaction/views.js';
import { PolicyUnreadableError } from '../services/errors.js';

const RETRY_AFTER_SECONDS = '300';

/**
 * Fail closed on an unreadable stored policy (item 19): whatever request needed it (a sign-in step,
 * the account or reset pages) is answered 503, never 500 and never under the defaults. Browser pages
 * get the error page, other callers an OAuth-style error. The policy service has logged it already.
 * The admin API (its problem documents) and oidc-provider (findAccount) answer it themselves.
 */
export async function policyUnavailable(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof PolicyUnreadableError)) throw err;
    ctx.set('Retry-After', RETRY_AFTER_SECONDS);
    ctx.set('Cache-Control', 'no-store');
    if (ctx.accepts('html', 'json') === 'html') {
      await render(
        ctx,
        'error',
        { message: 'Signing in is unavailable for your organization right now: its security settings cannot be read. Try again later, or contact your administrator.', code: 'temporarily_unavailable' },
        503,
      );
      return;
    }
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable', error_description: 'the security policy that governs this account cannot be read' };
  }
}
