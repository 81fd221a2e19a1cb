/**
 * Shared by the console's browser tests: axe + sideways-scroll check + screenshots of a page in every look,
 * and the console sign-in through Gatehouse's own page.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/paths.js';
import { PAGE_WAIT } from './chromium.js';

export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || join(PROJECT_ROOT, 'screenshots');
export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const AXE_SOURCE = readFileSync(createRequire(createRequire(import.meta.url).resolve('@axe-core/playwright')).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}
declare const document: { documentElement: { scrollWidth: number; clientWidth: number } };
declare const axe: { run(context: unknown, options: object): Promise<{ violations: AxeViolation[] }> };

/**
 * axe (WCAG 2.x A and AA; serious or critical violations count), no sideways scrolling, and a full-page
 * screenshot `console-<name>-<width>x<height>-<light|dark>.png` in SCREENSHOT_DIR, for each viewport and
 * colour scheme; returns the problems found (an empty list when the page is fine).
 */
export async function checkConsolePage(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.evaluate(AXE_SOURCE);
  const problems: string[] = [];
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const look = `${viewport.width}x${viewport.height}-${colorScheme}`;
      await page.screenshot({ path: join(SCREENSHOT_DIR, `console-${name}-${look}.png`), fullPage: true });
      const violations = await page.evaluate(
        (tags) => axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }).then((r) => r.violations),
        AXE_TAGS,
      );
      for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
        problems.push(`${name} ${look}: ${v.id} (${v.help}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
      }
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
      if (scrollWidth > clientWidth) problems.push(`${name} ${look}: scrolls sideways (${scrollWidth}px in ${clientWidth}px)`);
    }
  }
  await page.setViewportSize(VIEWPORTS[0]);
  return problems;
}

/** Opens /console, signs in on Gatehouse's password page, and waits to land back on the console. */
export async function signInToConsole(page: Page, issuer: string, email: string, password: string, path = '/console'): Promise<void> {
  await page.goto(`${issuer}${path}`);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/console')), page.locator('form[action$="/password"]:not([data-passkey]) button[type=submit]').click()]);
}

/** Waits for a text to appear on the page. */
export async function expectText(page: Page, text: string): Promise<void> {
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: PAGE_WAIT });
}
