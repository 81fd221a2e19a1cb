import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context, Next } from 'koa';
import { VIEWS_DIR } from '../paths.js';

/** The browser bundle of @simplewebauthn/browser (global `SimpleWebAuthnBrowser`), served by Gatehouse itself: no CDN. */
function webauthnBundle(): string {
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser'); // …/browser/script/index.js
  return join(dirname(dirname(entry)), 'dist', 'bundle', 'index.umd.min.js');
}

const ASSETS: Record<string, { file: () => string; type: string }> = {
  '/assets/gatehouse.css': { file: () => join(VIEWS_DIR, 'assets', 'gatehouse.css'), type: 'text/css' },
  '/assets/passkey.js': { file: () => join(VIEWS_DIR, 'assets', 'passkey.js'), type: 'application/javascript' },
  '/assets/local-time.js': { file: () => join(VIEWS_DIR, 'assets', 'local-time.js'), type: 'application/javascript' },
  '/assets/console.js': { file: () => join(VIEWS_DIR, 'assets', 'console.js'), type: 'application/javascript' },
  '/assets/policy-whitelist.js': { file: () => join(VIEWS_DIR, 'assets', 'policy-whitelist.js'), type: 'application/javascript' },
  '/assets/webauthn.js': { file: webauthnBundle, type: 'application/javascript' },
};

/** The paths of the static files (each its own route label in the metrics). */
export const ASSET_PATHS: readonly string[] = Object.keys(ASSETS);

/** Serves the pages' static files, read once at start. Same origin, so the CSP's `script-src 'self'` holds. */
export async function staticAssets(): Promise<(ctx: Context, next: Next) => Promise<void>> {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(ASSETS)) loaded.set(path, { body: await readFile(file()), type });
  return async (ctx, next) => {
    const asset = ctx.method === 'GET' || ctx.method === 'HEAD' ? loaded.get(ctx.path) : undefined;
    if (!asset) return next();
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = asset.body;
  };
}
