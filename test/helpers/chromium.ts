/**
 * Real-browser tests: playwright-core driving the system's Chromium (Debian's `chromium` package).
 * Playwright's own browser builds are never downloaded.
 *
 * - `describeWithBrowser(name, fn)`: a describe block that runs when a Chromium is found. Without one it
 *   is registered as skipped and a loud banner names the fix (also printed at the end of the jest run by
 *   test/helpers/jest-global-teardown.ts); with REQUIRE_BROWSER=1 (set by .ci/run) or CI set, a missing
 *   Chromium fails instead.
 * - `launchChromium()`: a headless Chromium with a fresh, temporary profile.
 * - `screenshot(page, name)`: a PNG in $SCREENSHOT_DIR, when that is set.
 * - `startLoopbackRp()`: a relying party's callback on 127.0.0.1 that records what it was sent.
 */
import { jest } from '@jest/globals';
import * as oidcClient from 'openid-client';
import { decodeJwt } from 'jose';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * How long a browser test waits for a page, a navigation or an element. Generous: CI runs a test file
 * per CPU, each with its own server and Chromium, on two CPUs, and a page that never comes fails all
 * the same, only later. Speed is measured by `npm run bench`, never by these waits.
 */
export const PAGE_WAIT = 30_000;
/** Jest's time for one test of a browser file (set by describeWithBrowser): several page waits fit in it. */
export const BROWSER_TEST_TIMEOUT = 120_000;

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Flags for a quiet, hermetic headless Chromium in a container (no sandbox: tests run as root). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const INSTALL_HINT = 'no Chromium found. Install it with `apt-get install chromium` (or set CHROMIUM_PATH)';
export const MISSING_BROWSER_MESSAGE = `Browser tests skipped: ${INSTALL_HINT}`;
export const REQUIRED_BROWSER_MESSAGE = `Browser tests cannot run: ${INSTALL_HINT}. This run requires them (REQUIRE_BROWSER=1, or CI set; REQUIRE_BROWSER=0 to skip)`;

/** The Chromium to drive: CHROMIUM_PATH when set (and only it), else the Debian/Ubuntu paths. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return existsSync(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

/** A missing browser fails the run (instead of skipping) under REQUIRE_BROWSER=1, or in CI unless REQUIRE_BROWSER=0. */
export function browserRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.REQUIRE_BROWSER !== undefined && env.REQUIRE_BROWSER !== '') return env.REQUIRE_BROWSER !== '0';
  return Boolean(env.CI) && env.CI !== '0' && env.CI !== 'false';
}

export function banner(message: string): string {
  const line = '!'.repeat(Math.min(message.length + 8, 110));
  return `\n${line}\n!!! ${message}\n${line}\n`;
}

let warned = false;

/**
 * `describe(name, fn)` when a Chromium is found. Otherwise: under browserRequired() one failing test
 * naming the fix; else the block is registered as skipped, the banner printed, and the skip recorded
 * for the end-of-run banner.
 */
export function describeWithBrowser(name: string, fn: () => void): void {
  if (findChromium()) {
    describe(name, () => {
      jest.setTimeout(BROWSER_TEST_TIMEOUT);
      fn();
    });
    return;
  }
  if (browserRequired()) {
    describe(name, () => {
      it('has a Chromium to run in (REQUIRE_BROWSER/CI)', () => {
        throw new Error(REQUIRED_BROWSER_MESSAGE);
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(banner(MISSING_BROWSER_MESSAGE));
  }
  const marker = process.env.GATEHOUSE_BROWSER_SKIPS;
  if (marker) appendFileSync(marker, `${MISSING_BROWSER_MESSAGE}\t${relative(process.cwd(), expect.getState().testPath ?? name)}\n`);
  describe.skip(name, fn);
}

/** A headless Chromium with the flags above; Playwright gives each launch a fresh temporary profile (user-data-dir) and deletes it on close. */
export async function launchChromium(options: { args?: string[] } = {}): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`Cannot launch Chromium: ${INSTALL_HINT}`);
  return chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...(options.args ?? [])],
    timeout: 30_000,
  });
}

/**
 * Writes a full-page PNG `<name>.png` to $SCREENSHOT_DIR (created if needed) and returns its path;
 * does nothing (undefined) when SCREENSHOT_DIR is not set.
 */
export async function screenshot(page: Page, name: string): Promise<string | undefined> {
  const dir = process.env.SCREENSHOT_DIR;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const { suffix } = screenshotLook();
  const path = join(dir, `${name.replace(/[^\w.-]+/g, '-')}${suffix}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface LoopbackRp {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** `${origin}/callback`: register it as the client's redirect URI. */
  callback: string;
  /** Every request the RP received, in order. */
  received: URL[];
  stop(): Promise<void>;
}

/** A relying party on an ephemeral loopback port: answers every request with a small page and records its URL. */
export async function startLoopbackRp(): Promise<LoopbackRp> {
  const received: URL[] = [];
  const server: Server = createServer((req, res) => {
    received.push(new URL(req.url ?? '/', `http://${req.headers.host}`));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Relying party</title><h1>Back at the relying party</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    callback: `${origin}/callback`,
    received,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Opens an authorization request (PKCE, state) for `web` in the page; `finish` waits for the browser to
 * reach the relying party's callback, exchanges the code and returns the ID token's claims.
 */
export async function authorizeInPage(page: Page, web: { config: oidcClient.Configuration }, rp: LoopbackRp) {
  const verifier = oidcClient.randomPKCECodeVerifier();
  const state = oidcClient.randomState();
  const url = oidcClient.buildAuthorizationUrl(web.config, {
    redirect_uri: rp.callback,
    scope: 'openid email',
    code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  await page.goto(url.href);
  return {
    verifier,
    state,
    async finish() {
      await page.waitForURL((u) => u.href.startsWith(rp.callback));
      const tokens = await oidcClient.authorizationCodeGrant(web.config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
      return decodeJwt(tokens.id_token!);
    },
  };
}

/**
 * How pages are looked at when screenshots are taken: SCREENSHOT_VIEWPORT (e.g. 390x844, a phone) and
 * SCREENSHOT_COLOR_SCHEME (light or dark). Pass `contextOptions()` to browser.newContext; the
 * screenshots' file names carry the look.
 */
export function screenshotLook(env: NodeJS.ProcessEnv = process.env) {
  const [width, height] = (env.SCREENSHOT_VIEWPORT ?? '').split('x').map(Number);
  const viewport = width && height ? { width, height } : undefined;
  const colorScheme = env.SCREENSHOT_COLOR_SCHEME === 'dark' ? ('dark' as const) : undefined;
  const suffix = `${viewport ? `-${viewport.width}x${viewport.height}` : ''}${colorScheme ? '-dark' : ''}`;
  return { contextOptions: { ...(viewport ? { viewport } : {}), ...(colorScheme ? { colorScheme } : {}) }, suffix };
}
