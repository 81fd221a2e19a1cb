import { parse, type HTMLElement } from 'node-html-parser';
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  html: string;
  doc: HTMLElement;
  headers: Headers;
}

/**
 * A minimal browser for tests: a cookie jar, redirects followed by hand (so a test sees each hop),
 * and HTML forms submitted the way a browser submits them (urlencoded, hidden fields included).
 */
export class Browser {
  readonly jar = new CookieJar();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const set of res.headers.getSetCookie()) await this.jar.setCookie(set, url, { ignoreError: true });
    return res;
  }

  /**
   * Follows redirects from `url`. Stops without requesting a Location for which `stopAt` is true
   * (a relying party's callback) and returns that URL; otherwise returns the first non-redirect page.
   */
  async follow(url: string, stopAt: (u: string) => boolean = () => false, init?: RequestInit): Promise<Page | { redirectedTo: string }> {
    let current = url;
    if (stopAt(current)) return { redirectedTo: current };
    let res = await this.request(current, init);
    for (let hops = 0; hops < 15; hops++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) break;
      current = new URL(location, current).href;
      if (stopAt(current)) return { redirectedTo: current };
      res = await this.request(current);
    }
    const html = await res.text();
    return { url: current, status: res.status, html, doc: parse(html), headers: res.headers };
  }

  async page(url: string): Promise<Page> {
    const result = await this.follow(url);
    if ('redirectedTo' in result) throw new Error(`unexpected redirect to ${result.redirectedTo}`);
    return result;
  }

  /** Submits the form matching `selector` with its hidden fields plus `fields`; does not follow the answer. */
  async submit(page: Page, selector: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const form = page.doc.querySelector(selector);
    if (!form) throw new Error(`no form ${selector} on ${page.url}: ${page.html.slice(0, 500)}`);
    const body = new URLSearchParams();
    for (const input of form.querySelectorAll('input')) {
      const name = input.getAttribute('name');
      if (name && input.getAttribute('type') === 'hidden') body.set(name, input.getAttribute('value') ?? '');
    }
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    const action = new URL(form.getAttribute('action') ?? page.url, page.url).href;
    return this.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: body.toString(),
    });
  }
}

/** The errors a page shows: one as a sentence (<p>), several as a list. */
export function errorsOn(page: Page): string[] {
  return page.doc.querySelectorAll('#form-errors li, #form-errors > p').map((e) => e.text.trim());
}
