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
  return pageOf(page.url, await browser.submit(page, selector, fields));
}

/** The text of the page's main element, whitespace collapsed. */
export const mainText = (p: Page): string => p.doc.querySelector('main')!.text.replace(/\s+/g, ' ');

/** The console session's CSRF token, from any form of the page. */
export const csrfOf = (p: Page): string => p.doc.querySelector('input[name="csrf"]')!.getAttribute('value')!;

/** POSTs a console form by hand (for refusals: another organization's path, a missing or wrong token). */
export function postForm(browser: Browser, url: string, fields: Record<string, string>): Promise<Response> {
  return browser.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

/** Submits a GET form of the page (its inputs' values, `fields` over them) as a browser would: the fields in the URL. */
export function openGetForm(browser: Browser, page: Page, selector: string, fields: Record<string, string> = {}): Promise<Response> {
  const form = page.doc.querySelector(selector);
  if (!form) throw new Error(`no form ${selector} on ${page.url}`);
  const query = new URLSearchParams();
  for (const input of form.querySelectorAll('input, select')) {
    const name = input.getAttribute('name');
    if (!name) continue;
    const selected = input.tagName === 'SELECT' ? (input.querySelector('option[selected]') ?? input.querySelector('option')) : input;
    query.set(name, selected?.getAttribute('value') ?? '');
  }
  for (const [k, v] of Object.entries(fields)) query.set(k, v);
  const action = new URL(form.getAttribute('action') ?? page.url, page.url);
  action.search = query.toString();
  return browser.request(action.href);
}

/** Reads an answer as a page (without following a redirect). */
export async function pageOf(url: string, res: Response): Promise<Page> {
  const html = await res.text();
  return { url, status: res.status, html, doc: parse(html), headers: res.headers } as Page;
}
