/**
 * Every page Gatehouse shows, in a real Chromium, at 1280×800 and 390×844, light and dark: an
 * accessibility check (axe, WCAG 2.0/2.1 A and AA; any serious or critical violation fails), no sideways
 * scrolling, and a full-page screenshot per page and look in screenshots/ at the project root (or
 * $SCREENSHOT_DIR), named <page>-<width>x<height>-<theme>.png, for anyone to look at.
 *
 * Each row of PAGES brings a fresh browser profile to one state through the real flows of one
 * Gatehouse running in-process (sign-in, enrollment, mails caught by the test SMTP server, …); the four
 * looks are then applied to that same page (viewport and prefers-color-scheme change in place, nothing
 * is submitted twice). To add a page: one line in PAGES.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, Locator, Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/paths.js';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { authorizeInPage, describeWithBrowser, launchChromium, startLoopbackRp, type LoopbackRp, PAGE_WAIT } from '../helpers/chromium.js';
import { inviteThroughApi } from '../helpers/invitations.js';
import { registerClient, type TestClient } from '../helpers/oidc.js';
import { adminResetLink } from '../helpers/password-flows.js';
import { createUser, organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { enrollThroughPages } from '../helpers/two-factor.js';
import { addVirtualAuthenticator } from '../helpers/virtual-authenticator.js';

const PASSWORD = 'Pages-Browser-2026';
const NEW_PASSWORD = 'Pages-Browser-Renewed-77';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || join(PROJECT_ROOT, 'screenshots');
const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
const THEMES = ['light', 'dark'] as const;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/** Pages brought to their state and checked at once (each in its own browser profile). */
const CONCURRENCY = Number(process.env.PAGES_CONCURRENCY) || 4;
/**
 * The axe-core engine that @axe-core/playwright ships, injected once per page and run once per look:
 * AxeBuilder injects it afresh and opens a blank page for every analysis, 20 times slower here.
 */
const AXE_SOURCE = readFileSync(createRequire(createRequire(import.meta.url).resolve('@axe-core/playwright')).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

// The functions given to page.evaluate run in Chromium; the project compiles without the DOM library.
declare const document: { documentElement: { scrollWidth: number; clientWidth: number } };
declare const axe: { run(context: unknown, options: object): Promise<{ violations: AxeViolation[] }> };

describeWithBrowser('every page: accessibility, no sideways scrolling, screenshots', () => {
  let h: AdminHarness;
  let browser: Browser;
  let rp: LoopbackRp;
  /** The web app the pages are opened for (its callback is the loopback RP). */
  let web: TestClient;
  /** A third-party app: it asks for consent. */
  let thirdParty: TestClient;
  /** A client for the cookie-jar flows of test/helpers (its callback is never requested). */
  let jar: TestClient;
  let seq = 0;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    // Every password under the "expiring" policy (90 days) is within the warning period from the start.
    // The cheapest argon2 the configuration allows: these pages are not about hashing, and a row hashes often.
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({ PASSWORD_EXPIRY_WARNING_DAYS: '90', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, { host: 'localhost' }), startLoopbackRp()]);
    [web, thirdParty, jar] = await Promise.all([
      registerClient(h.app, h.running.issuer, { redirectUri: rp.callback }),
      registerClient(h.app, h.running.issuer, { redirectUri: rp.callback, thirdParty: true }),
      registerClient(h.app, h.running.issuer),
    ]);
    const [enforcing, expiring, fenced] = await Promise.all([
      organizationWithDomain(h, 'Enforcing Co', 'enforcing.example'),
      organizationWithDomain(h, 'Expiring Co', 'expiring.example'),
      organizationWithDomain(h, 'Fenced Co', 'fenced.example'),
    ]);
    await Promise.all([
      putPolicy(h, enforcing, { authentication: { enforce2fa: true } }),
      putPolicy(h, expiring, { password: { expirationDays: 90 } }),
      putPolicy(h, fenced, { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } }),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await rp?.stop();
    await h?.stop();
  });

  // ---- Flows that bring a page to a state (each ends when the page is shown) ----

  /** A new user with PASSWORD, governed by the policy of `domain`; returns the email (and id). */
  async function newUser(domain = 'plain.example') {
    const email = `user${++seq}@${domain}`;
    return { email, id: await createUser(h, email, PASSWORD) };
  }

  /** Clicks and waits for the page the click navigates to. */
  async function submit(page: Page, button: Locator) {
    await Promise.all([page.waitForNavigation(), button.click()]);
  }

  /** The sign-in page of an authorization request from `client`. */
  async function authorize(page: Page, client = web) {
    await authorizeInPage(page, client, rp);
    await page.locator('#email').waitFor();
  }

  /** Types email and password on the sign-in page and submits. */
  async function typePassword(page: Page, email: string, password = PASSWORD) {
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await submit(page, page.locator('form[action$="/password"]:not([data-passkey]) button[type=submit]'));
  }

  /** Authorizes and signs in with the password: shows whatever comes after it. */
  async function signIn(page: Page, email: string, client = web) {
    await authorize(page, client);
    await typePassword(page, email);
  }

  /** Signed in to Gatehouse (the app got its code), then at `path` of Gatehouse. */
  async function signedInAt(page: Page, path: string, email?: string) {
    await signIn(page, email ?? (await newUser()).email);
    await page.waitForURL((u) => u.href.startsWith(rp.callback));
    await page.goto(`${h.running.issuer}${path}`);
  }

  /** Under a policy that enforces 2FA, the authenticator-app enrollment page. */
  async function enrollTotp(page: Page) {
    await signIn(page, (await newUser('enforcing.example')).email);
    await submit(page, page.locator('button[name=choose][value=totp]'));
  }

  /** A user with an authenticator app (enrolled through the pages), signed in with the password: the code page. */
  async function totpStep(page: Page) {
    const { email } = await newUser('enforcing.example');
    await enrollThroughPages(jar, email, PASSWORD);
    await signIn(page, email);
  }

  /** A user with a passkey, enrolled through the pages in a browser of its own with a virtual authenticator. */
  async function passkeyUser(): Promise<string> {
    const { email } = await newUser('enforcing.example');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await addVirtualAuthenticator(page, { kind: 'passkey' });
      await signIn(page, email);
      await submit(page, page.locator('form[data-passkey=register] button[type=submit]'));
      await submit(page, page.locator('form[action$="/recovery-codes"] button[type=submit]'));
      await page.waitForURL((u) => u.href.startsWith(rp.callback));
    } finally {
      await context.close();
    }
    return email;
  }

  /** An emailed password-reset link (sent by an administrator), opened. */
  async function resetPage(page: Page) {
    const { email, id } = await newUser();
    await page.goto(await adminResetLink(h, id, email));
  }

  async function newPasswords(page: Page, password: string, repeated = password) {
    await page.locator('#newPassword').fill(password);
    await page.locator('#confirmPassword').fill(repeated);
    await submit(page, page.locator('form[method=post] button[type=submit]').first());
  }

  async function invitationPage(page: Page) {
    const { link } = await inviteThroughApi(h, { email: `invited${++seq}@plain.example` });
    await page.goto(link);
  }

  /** The app asks to end the session (RP-initiated logout): the confirmation page. */
  async function logoutPage(page: Page) {
    await signedInAt(page, `/session/end?client_id=${encodeURIComponent(web.clientId)}`);
  }

  /** Under enforcement, the authenticator app confirmed with its current code: the recovery codes shown once. */
  async function recoveryCodesShown(page: Page) {
    await enrollTotp(page);
    const secret = (await page.locator('code.secret').innerText()).replace(/\s/g, '');
    await page.locator('#code').fill(await generate({ secret }));
    await submit(page, page.locator('form[action$="/enroll-totp"] button[type=submit]'));
  }

  /** Five wrong passwords lock the account; the right one is then refused too. */
  async function locked(page: Page) {
    const { email } = await newUser();
    await authorize(page);
    for (let i = 0; i < 5; i++) await typePassword(page, email, `${PASSWORD}x`);
    await typePassword(page, email);
  }

  /** An administrator asked for a new password at the next sign-in: the forced change. */
  async function forcedChange(page: Page) {
    const { email, id } = await newUser();
    await adminResetLink(h, id, email, true);
    await signIn(page, email);
  }

  async function forgotSent(page: Page) {
    await page.goto(`${h.running.issuer}/password/forgot`);
    await page.locator('#email').fill(`nobody${++seq}@plain.example`);
    await submit(page, page.locator('form[action="/password/forgot"] button[type=submit]'));
  }

  /**
   * Every page Gatehouse shows: its name (the screenshots' file names), a selector for what must be on
   * the page once the flow has run (so that a flow landing elsewhere fails instead of checking the wrong
   * page), and the flow.
   */
  const PAGES: Array<[name: string, shows: string, open: (page: Page) => Promise<unknown>]> = [
    ['sign-in', '#password', (p) => authorize(p)],
    ['sign-in-wrong-password', '#form-errors', async (p) => { await authorize(p); await typePassword(p, (await newUser()).email, `${PASSWORD}x`); }],
    ['consent', 'form[action$="/consent"]', async (p) => signIn(p, (await newUser()).email, thirdParty)],
    ['enroll-choice', 'form[action$="/enroll"][data-passkey]', async (p) => signIn(p, (await newUser('enforcing.example')).email)],
    ['enroll-totp', 'form[action$="/enroll-totp"]', (p) => enrollTotp(p)],
    ['recovery-codes', 'ul.codes code', (p) => recoveryCodesShown(p)],
    ['totp', 'form[action$="/totp"]', (p) => totpStep(p)],
    ['recovery-code', 'form[action$="/recovery-code"]', async (p) => { await totpStep(p); await submit(p, p.locator('[name=choose][value=recovery-code], a[href*="recovery-code"]').first()); }],
    ['passkey', 'form[action$="/passkey"]', async (p) => signIn(p, await passkeyUser())],
    ['change-password', 'form[action$="/change-password"]', (p) => forcedChange(p)],
    ['expiry-warning', 'form[action$="/expiry-warning"]', async (p) => signIn(p, (await newUser('expiring.example')).email)],
    ['locked', '#form-errors >> text=/too many/i', (p) => locked(p)],
    ['whitelist-refused', 'text=/not allow signing in from this network/i', async (p) => signIn(p, (await newUser('fenced.example')).email)],
    ['forgot-password', 'form[action="/password/forgot"]', (p) => p.goto(`${h.running.issuer}/password/forgot`)],
    ['forgot-password-sent', 'main:not(:has(form[action="/password/forgot"])) [role=status]', (p) => forgotSent(p)],
    ['reset', 'form[action="/password/reset"]', (p) => resetPage(p)],
    ['reset-error', 'form[action="/password/reset"] >> xpath=.. >> #form-errors', async (p) => { await resetPage(p); await newPasswords(p, NEW_PASSWORD, `${NEW_PASSWORD}x`); }],
    ['reset-done', 'main:not(:has(#newPassword)) [role=status]', async (p) => { await resetPage(p); await newPasswords(p, NEW_PASSWORD); }],
    ['invitation', 'form[action="/invitation"]', (p) => invitationPage(p)],
    ['invitation-done', 'main:not(:has(#newPassword)) [role=status]', async (p) => { await invitationPage(p); await newPasswords(p, NEW_PASSWORD); }],
    ['logout', 'button[name=logout][value=yes]', (p) => logoutPage(p)],
    ['logged-out', 'text=/signed out/i', async (p) => { await logoutPage(p); await submit(p, p.locator('button[name=logout][value=yes]')); }],
    ['error-bad-request', 'code >> text=invalid_client', (p) => p.goto(`${h.running.issuer}/auth?client_id=no-such-client&response_type=code&scope=openid`)],
    ['error-expired-sign-in', 'text=/sign-in has expired/i', (p) => p.goto(`${h.running.issuer}/interaction/no-such-sign-in`)],
    ['still-signed-in', 'h1 >> text=/still signed in/i', async (p) => { await logoutPage(p); await submit(p, p.locator('form#stay button')); }],
    ['account', 'nav.account-nav', (p) => signedInAt(p, '/account')],
    ['account-vi', 'html[lang=vi] nav.account-nav', (p) => signedInAt(p, '/account?lang=vi')],
    ['account-security', 'form[action="/account/password"]', (p) => signedInAt(p, '/account/security')],
    ['account-totp-setup', 'form[action="/account/totp/confirm"]', async (p) => { await signedInAt(p, '/account/security'); await submit(p, p.locator('form[action="/account/totp/start"] button')); }],
    ['account-sessions', 'h2#browsers-heading', (p) => signedInAt(p, '/account/sessions')],
    ['account-activity', 'nav.account-nav [aria-current=page][href="/account/activity"]', (p) => signedInAt(p, '/account/activity')],
    ['account-confirm', 'form#confirm-by-password', (p) => signedInAt(p, '/account/confirm?next=/account/security')],
  ];

  /** One axe violation per line: impact, rule, what it means, and each offending element with axe's summary. */
  function readable(violations: AxeViolation[]): string {
    return violations
      .map((v) => [`  [${v.impact}] ${v.id}: ${v.help}`, ...v.nodes.map((n) => `      ${n.target.join(' ')}\n        ${(n.failureSummary ?? '').replace(/\n/g, '\n        ')}`)].join('\n'))
      .join('\n');
  }

  /**
   * Brings a fresh browser profile to the row's page, then for each look: a screenshot, axe, and the
   * width of the content. Returns the problems found, one paragraph per look.
   */
  async function check([name, shows, open]: (typeof PAGES)[number]): Promise<string[]> {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(PAGE_WAIT);
      await open(page);
      expect(new URL(page.url()).origin).toBe(h.running.issuer);
      await page.locator(shows).first().waitFor({ timeout: PAGE_WAIT });
      await page.evaluate(AXE_SOURCE);
      const problems: string[] = [];
      for (const viewport of VIEWPORTS) {
        await page.setViewportSize(viewport);
        for (const colorScheme of THEMES) {
          await page.emulateMedia({ colorScheme });
          const look = `${viewport.width}x${viewport.height}-${colorScheme}`;
          await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${look}.png`), fullPage: true });
          const violations = await page.evaluate(
            (tags) => axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }).then((r) => r.violations),
            AXE_TAGS,
          );
          const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
          if (serious.length) problems.push(`${look}: axe found\n${readable(serious)}`);
          const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
          if (scrollWidth > clientWidth) problems.push(`${look}: scrolls sideways (${scrollWidth}px of content in ${clientWidth}px)`);
        }
      }
      return problems;
    } finally {
      await context.close();
    }
  }

  /**
   * The rows run CONCURRENCY at a time, started once everything is set up; each test waits for its own
   * row. A row's failure is kept (never an unhandled rejection) and rethrown by its test. PAGES_ONLY
   * (names, comma-separated) runs some rows alone, e.g. PAGES_ONLY=sign-in,account.
   */
  const only = process.env.PAGES_ONLY?.split(',').map((n) => n.trim()).filter(Boolean);
  const rows = only?.length ? PAGES.filter(([name]) => only.includes(name)) : PAGES;
  const outcomes = new Map<string, Promise<{ problems: string[] } | { error: unknown }>>();
  beforeAll(() => {
    let next = 0;
    const started: Array<() => void> = [];
    const slot = () => (next++ < CONCURRENCY ? Promise.resolve() : new Promise<void>((resolve) => started.push(resolve)));
    for (const row of rows) {
      outcomes.set(
        row[0],
        slot()
          .then(() => check(row))
          .then((problems) => ({ problems }), (error: unknown) => ({ error }))
          .finally(() => started.shift()?.()),
      );
    }
  });

  it.each(rows)('%s', async (name) => {
    const outcome = await outcomes.get(name)!;
    if ('error' in outcome) throw outcome.error;
    expect(outcome.problems.join('\n')).toBe('');
  }, 90_000);
});
