#!/usr/bin/env node
// The `gatehouse` command. `npm ci` builds dist/ (the prepare script); this only loads it.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('gatehouse: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
await import(cli.href);
