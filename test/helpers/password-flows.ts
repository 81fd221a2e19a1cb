import { parse } from 'node-html-parser';
import type { AdminHarness } from './admin.js';
import { Browser, errorsOn, type Page } from './browser.js';
import { resetLinkIn } from './smtp.js';

/** What a page-based password form answered: accepted, or the errors it listed. */
export interface Attempt {
  accepted: boolean;
  errors: string[];
}

export async function pageOf(res: Response, url: string): Promise<Page> {
  const html = await res.text();
  return { url, status: res.status, html, doc: parse(html), headers: res.headers };
}

/** Submits a new-password form (reset, forced change, account); 303 or a "done" page means accepted. */
export async function submitNewPassword(browser: Browser, page: Page, selector: string, password: string, extra: Record<string, string> = {}): Promise<Attempt> {
  const res = await browser.submit(page, selector, { newPassword: password, confirmPassword: password, ...extra });
  if (res.status === 303) return { accepted: true, errors: [] };
  const answer = await pageOf(res, page.url);
  return { accepted: res.status === 200, errors: errorsOn(answer) };
}

/** Asks for a reset link through the forgot-password page and returns the link from the delivered mail. */
export async function forgotPasswordLink(h: AdminHarness, email: string): Promise<string> {
  const browser = new Browser();
  const form = await browser.page(`${h.running.issuer}/password/forgot`);
  const before = h.smtp.received.length;
  const res = await browser.submit(form, 'form[action="/password/forgot"]', { email });
  if (res.status !== 200) throw new Error(`forgot-password answered ${res.status}`);
  return resetLinkIn(await h.smtp.waitFor((m) => m.to === email && m.subject.includes('Reset'), before));
}

/** Sends an admin reset through the API and returns the link from the delivered mail. */
export async function adminResetLink(h: AdminHarness, userId: string, email: string, requireChangeAtNextSignIn = false): Promise<string> {
  const before = h.smtp.received.length;
  const res = await h.api('POST', `/users/${userId}/password-reset`, { requireChangeAtNextSignIn });
  if (res.status !== 202) throw new Error(`password-reset answered ${res.status}`);
  return resetLinkIn(await h.smtp.waitFor((m) => m.to === email && m.subject.includes('Reset'), before));
}

/** Opens a reset link and submits a new password there. */
export async function resetThroughLink(link: string, password: string): Promise<Attempt> {
  const browser = new Browser();
  const page = await browser.page(link);
  if (page.status !== 200) return { accepted: false, errors: [page.doc.querySelector('.lead')?.text.trim() ?? `status ${page.status}`] };
  return submitNewPassword(browser, page, 'form[action="/password/reset"]', password);
}
