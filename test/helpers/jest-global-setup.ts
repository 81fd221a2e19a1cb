/**
 * Jest globalSetup: names a file in which browser test files that were skipped (no Chromium) record
 * themselves, so the teardown can repeat the banner at the very end of the run. Workers inherit the
 * variable (they start after global setup).
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup(): void {
  const marker = join(tmpdir(), `gatehouse-browser-skips-${process.pid}-${Date.now()}`);
  rmSync(marker, { force: true });
  process.env.GATEHOUSE_BROWSER_SKIPS = marker;
}
