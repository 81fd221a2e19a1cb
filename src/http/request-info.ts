import type { Context } from 'koa';
import { clientAddress } from '../policy/ip.js';
import { localeOf } from '../i18n/index.js';
import type { RequestInfo } from '../services/audit.js';

/**
 * The caller's address (socket, or through trusted proxies only), user agent and the request's id
 * (see observeRequests), for audit and policy checks.
 */
export function requestInfo(ctx: Context, trustedProxies: readonly string[]): RequestInfo {
  return {
    ip: clientAddress(ctx.req.socket.remoteAddress, ctx.get('x-forwarded-for') || undefined, trustedProxies),
    userAgent: ctx.get('user-agent') || null,
    requestId: (ctx.state as { requestId?: string }).requestId ?? null,
    locale: localeOf(ctx),
  };
}
