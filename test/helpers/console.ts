/** The console over plain HTTP (no browser engine): sign in through Gatehouse's real forms, submit console forms. */
import { parse } from 'node-html-parser';
import { Browser, type Page } from './browser.js';

/**
 * Opens /console (or `path`) anonymously, is sent to Gatehouse's sign-in page, signs in there with the
 * password, and follows the redirects back to the console.
 */
export async function consoleSignIn(issuer: string, email: string, password: string, browser = new Browser(), path = '/console'): Promise<{ browser: Browser; page: Page }> {
  const login = await browser.page(`${issuer}${path}`);
  if (!login.url.includes('/interaction/')) throw new Error(`expected the sign-in page, got ${login.url} (${login.status})`);
  const res = await browser.submit(login, 'form[action$="/password"]', { email, password });
  if (res.status !== 303) throw new Error(`sign-in of ${email} answered ${res.status}`);
  const page = await browser.page(new URL(res.headers.get('location')!, login.url).href);
  return { browser, page };
}

/** Submits a form of the page (its hidden fields, csrf included, plus `fields`) and reads the answer without following a redirect. */
export async function submitAndRead(browser: Browser, page: Page, selector: string, fields: Record<string, string> = {}): Promise<Page> {
  const res = await browser.submit(page, selector, fields);
  const html = await res.text();
  return { url: page.url, status: res.status, html, doc: parse(html), headers: res.headers } as Page;
}

/** The text of the page's main element, whitespace collapsed. */
export const mainText = (p: Page): string => p.doc.querySelector('main')!.text.replace(/\s+/g, ' ');

/** The console session's CSRF token, from any form of the page. */
export const csrfOf = (p: Page): string => p.doc.querySelector('input[name="csrf"]')!.getAttribute('value')!;

/** POSTs a console form by hand (for refusals: another organization's path, a missing or wrong token). */
export function postForm(browser: Browser, url: string, fields: Record<string, string>): Promise<Response> {
  return browser.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}
