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
import { authorizeInPage, describeWithBrowser, launchChromium, startLoopbackRp, type LoopbackRp } from '../helpers/chromium.js';
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
    [browser, h, rp] = await Promise.all([launchChromium(), startAdminHarness({ PASSWORD_EXPIRY_WARNING_DAYS: '90' }, { host: 'localhost' }), startLoopbackRp()]);
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

  /** Every page Gatehouse shows: a name (the screenshots' file names) and the flow that shows it. */
  const PAGES: Array<[name: string, open: (page: Page) => Promise<unknown>]> = [
    ['sign-in', (p) => authorize(p)],
    ['sign-in-wrong-password', async (p) => { await authorize(p); await typePassword(p, (await newUser()).email, `${PASSWORD}x`); }],
    ['consent', (p) => newUser().then(({ email }) => signIn(p, email, thirdParty))],
    ['enroll-choice', (p) => newUser('enforcing.example').then(({ email }) => signIn(p, email))],
    ['enroll-totp', (p) => enrollTotp(p)],
    ['recovery-codes', async (p) => { await enrollTotp(p); await p.locator('#code').fill(await generate({ secret: (await p.locator('code.secret').innerText()).replace(/\s/g, '') })); await submit(p, p.locator('form[action$="/enroll-totp"] button[type=submit]')); }],
    ['totp', (p) => totpStep(p)],
    ['recovery-code', async (p) => { await totpStep(p); await submit(p, p.locator('[name=choose][value=recovery-code], a[href*="recovery-code"]').first()); }],
    ['passkey', async (p) => signIn(p, await passkeyUser())],
    ['change-password', async (p) => { const { email, id } = await newUser(); await adminResetLink(h, id, email, true); await signIn(p, email); }],
    ['expiry-warning', (p) => newUser('expiring.example').then(({ email }) => signIn(p, email))],
    ['locked', async (p) => { const { email } = await newUser(); await authorize(p); for (let i = 0; i < 5; i++) await typePassword(p, email, `${PASSWORD}x`); await typePassword(p, email); }],
    ['whitelist-refused', (p) => newUser('fenced.example').then(({ email }) => signIn(p, email))],
    ['forgot-password', (p) => p.goto(`${h.running.issuer}/password/forgot`)],
    ['forgot-password-sent', async (p) => { await p.goto(`${h.running.issuer}/password/forgot`); await p.locator('#email').fill(`nobody${++seq}@plain.example`); await submit(p, p.locator('form[action="/password/forgot"] button[type=submit]')); }],
    ['reset', (p) => resetPage(p)],
    ['reset-error', async (p) => { await resetPage(p); await newPasswords(p, NEW_PASSWORD, `${NEW_PASSWORD}x`); }],
    ['reset-done', async (p) => { await resetPage(p); await newPasswords(p, NEW_PASSWORD); }],
    ['invitation', (p) => invitationPage(p)],
    ['invitation-done', async (p) => { await invitationPage(p); await newPasswords(p, NEW_PASSWORD); }],
    ['logout', (p) => logoutPage(p)],
    ['logged-out', async (p) => { await logoutPage(p); await submit(p, p.locator('button[name=logout][value=yes]')); }],
    ['error-bad-request', (p) => p.goto(`${h.running.issuer}/auth?client_id=no-such-client&response_type=code&scope=openid`)],
    ['error-expired-sign-in', (p) => p.goto(`${h.running.issuer}/interaction/no-such-sign-in`)],
    ['account', (p) => signedInAt(p, '/account')],
  ];

  /** One axe violation per line: impact, rule, what it means, and each offending element with axe's summary. */
  function readable(violations: AxeViolation[]): string {
    return violations
      .map((v) => [`  [${v.impact}] ${v.id}: ${v.help}`, ...v.nodes.map((n) => `      ${n.target.join(' ')}\n        ${(n.failureSummary ?? '').replace(/\n/g, '\n        ')}`)].join('\n'))
      .join('\n');
  }

  it.each(PAGES)('%s', async (name, open) => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      await open(page);
      expect(new URL(page.url()).origin).toBe(h.running.issuer);
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
      expect(problems.join('\n')).toBe('');
    } finally {
      await context.close();
    }
  });
});
