import { generate } from 'otplib';
import { Browser, type Page } from './browser.js';
import { RP, startSignIn, type StartedSignIn, type TestClient } from './oidc.js';
import { pageOf } from './password-flows.js';

/** Where the browser lands after the password step: a page of the sign-in, or the client's callback. */
export type Landing = { page: Page; callback?: undefined } | { page?: undefined; callback: string };

/** Starts a sign-in and submits the password; follows to the next page or the callback. */
export async function afterPassword(browser: Browser, web: TestClient, email: string, password: string): Promise<Landing & { started: StartedSignIn }> {
  const started = await startSignIn(browser, web);
  const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email, password });
  if (res.status !== 303) throw new Error(`password step answered ${res.status}`);
  return { ...(await chooseAuthenticatorApp(browser, await land(browser, res, started.loginPage.url))), started };
}

/**
 * On the enrollment choice ("Add a passkey" / "Use an authenticator app"), picks the app, as a user
 * without a passkey does; any other landing is returned as it is.
 */
export async function chooseAuthenticatorApp(browser: Browser, landing: Landing): Promise<Landing> {
  if (stepOf(landing) !== 'enroll') return landing;
  const res = await browser.submit(landing.page!, 'form[action$="/enroll"]:not([data-passkey])', { choose: 'totp' });
  if (res.status !== 303) throw new Error(`enrollment choice answered ${res.status}`);
  return land(browser, res, landing.page!.url);
}

/** Follows a 303 from a sign-in step to the next page, stopping at the client's callback. */
export async function land(browser: Browser, res: Response, from: string): Promise<Landing> {
  const next = await browser.follow(new URL(res.headers.get('location')!, from).href, (u) => u.startsWith(RP));
  return 'redirectedTo' in next ? { callback: next.redirectedTo } : { page: next };
}

/** Which sign-in step a page is: the action of its form (totp, enroll-totp, change-password, …). */
export function stepOf(landing: Landing): string {
  if (landing.callback) return 'callback';
  const action = landing.page!.doc.querySelector('form[action^="/interaction/"]')?.getAttribute('action') ?? '';
  return action.split('/').pop() || `no sign-in form (status ${landing.page!.status})`;
}

/** Submits a code on the TOTP or enrollment page: 303 (passed) or the page shown again. */
export async function submitCode(browser: Browser, page: Page, step: 'totp' | 'enroll-totp', code: string) {
  const res = await browser.submit(page, `form[action$="/${step}"]`, { code });
  if (res.status === 303) return { status: 303, res, page: undefined };
  return { status: res.status, res: undefined, page: await pageOf(res, page.url) };
}

/** The code of the next 30-second step: accepted (one step of drift) and later than any code used so far. */
export const nextStepCode = (secret: string) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

/** A 6-digit code that no step within the accepted drift produces: certainly wrong. */
export async function wrongCode(secret: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const valid = new Set(await Promise.all([-60, -30, 0, 30, 60, 90].map((d) => generate({ secret, epoch: now + d }))));
  for (let n = 123456; ; n = (n + 1) % 1_000_000) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

/**
 * Enrolls through the pages (the governing policy must enforce 2FA for the enrollment step to appear);
 * returns the seed, the recovery codes shown and the browser, signed in. The sign-in completes.
 */
export async function enrollThroughPages(web: TestClient, email: string, password: string) {
  const browser = new Browser();
  const landing = await afterPassword(browser, web, email, password);
  if (stepOf(landing) !== 'enroll-totp') throw new Error(`expected enrollment, got ${stepOf(landing)}`);
  const secret = landing.page!.doc.querySelector('code.secret')!.text.replace(/\s/g, '');
  const shown = await submitCode(browser, landing.page!, 'enroll-totp', await generate({ secret }));
  if (shown.status !== 200) throw new Error(`enrollment answered ${shown.status}`);
  const codes = shown.page!.doc.querySelectorAll('ul.codes code').map((c) => c.text.trim());
  const done = await browser.submit(shown.page!, 'form[action$="/recovery-codes"]', {});
  const after = await land(browser, done, shown.page!.url);
  if (stepOf(after) !== 'callback') {
    const heading = after.page?.doc.querySelector('h1')?.text.trim();
    throw new Error(`enrollment did not complete the sign-in: recovery codes answered ${done.status}, then ${stepOf(after)} ("${heading}")`);
  }
  return { secret, codes, browser };
}
