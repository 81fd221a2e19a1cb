/**
 * Jest globalTeardown: after the summary, repeats the missing-Chromium banner if browser tests were
 * skipped. Self-contained (jest loads global hooks outside the module mapper): the message comes from
 * the lines describeWithBrowser (test/helpers/chromium.ts) wrote, `message<TAB>test file`.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';

export default function globalTeardown(): void {
  const marker = process.env.GATEHOUSE_BROWSER_SKIPS;
  if (!marker || !existsSync(marker)) return;
  const lines = readFileSync(marker, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));
  rmSync(marker, { force: true });
  const message = lines[0]?.[0] ?? 'Browser tests skipped';
  const files = [...new Set(lines.map(([, file]) => file))];
  const text = `${message}. Skipped: ${files.join(', ')}`;
  const line = '!'.repeat(Math.min(text.length + 8, 110));
  console.warn(`\n${line}\n!!! ${text}\n${line}\n`);
}
