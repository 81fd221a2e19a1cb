import { join } from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { VIEWS_DIR } from '../paths.js';
import { LOCALE_NAMES, LOCALES, localeOf, m, translator, type Text } from '../i18n/index.js';

/** Every page's answer to a form whose CSRF token is missing or stale. */
export const FORM_EXPIRED = m('This form has expired. Please try again.');

/**
 * The address a language link (`?lang=`) reloads: the page itself for a GET; for a form answered in
 * place, the page that shows it again (a sign-in step, the account), or none.
 */
function pageAddress(ctx: Context): string | null {
  if (ctx.method === 'GET') {
    const params = new URLSearchParams(ctx.querystring);
    params.delete('lang');
    const query = params.toString();
    return query ? `${ctx.path}?${query}` : ctx.path;
  }
  const step = /^\/interaction\/([\w-]+)\//.exec(ctx.path);
  if (step) return `/interaction/${step[1]}`;
  if (ctx.path.startsWith('/account')) return '/account';
  return null;
}

/**
 * Renders an ejs page from views/ into the response, in the request's language (src/i18n). Output is
 * escaped unless a template says otherwise. Every page gets: `lng`; `t(text, values)` (plain text, for
 * <%= %>); `msg(text or Message)`, `dt(when)` and `d(when)` (HTML, for <%- %>: escaped, dates as <time>
 * shown in the browser's time zone); `languages` (the switcher's links).
 */
export async function render(ctx: Context, name: string, data: Record<string, unknown>, status = 200): Promise<void> {
  const tr = translator(localeOf(ctx));
  // A page answered to a form may name the page to reload in another language (`here`).
  const here = typeof data.here === 'string' ? data.here : pageAddress(ctx);
  const languages = here
    ? LOCALES.map((l) => ({ code: l, name: LOCALE_NAMES[l], href: `${here}${here.includes('?') ? '&' : '?'}lang=${l}`, current: l === tr.locale }))
    : [];
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = await ejs.renderFile(
    join(VIEWS_DIR, `${name}.ejs`),
    { lng: tr.locale, t: tr.t, msg: (m: Text) => tr.html(m), dt: tr.dateTime, d: tr.date, languages, ...data },
    { async: false, cache: true },
  );
}
