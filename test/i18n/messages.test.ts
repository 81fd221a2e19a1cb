import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LOCALES, loadMessages, m, quoted, translator } from '../../src/i18n/index.js';
import { PROJECT_ROOT } from '../../src/paths.js';

/**
 * Every text a page or a mail can show has an entry in every language: `t('…')` / `msg('…')` in views and
 * `m('…')` in code are the English keys (src/i18n). A key with `{{count}}` needs its plural forms.
 */
function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [],
  );
}

/** The string literal arguments of calls to `fn` ('…', "…" or `…` without ${}). */
function literalArgs(source: string, fn: string): string[] {
  const found: string[] = [];
  const call = new RegExp(`(?<![\\w.$])${fn}\\(\\s*(['"\`])((?:\\\\.|(?!\\1).)*)\\1`, 'gs');
  for (const match of source.matchAll(call)) {
    const raw = match[2]!;
    if (match[1] === '`' && raw.includes('${')) continue;
    found.push(raw.replace(/\\(['"`\\])/g, '$1'));
  }
  return found;
}

const used = new Map<string, string>();
for (const file of files(join(PROJECT_ROOT, 'views'), '.ejs')) {
  const source = readFileSync(file, 'utf8');
  for (const key of [...literalArgs(source, 't'), ...literalArgs(source, 'msg')]) used.set(key, relative(PROJECT_ROOT, file));
}
for (const file of files(join(PROJECT_ROOT, 'src'), '.ts')) {
  // Comments may show examples: only code counts.
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const key of literalArgs(code, 'm')) used.set(key, relative(PROJECT_ROOT, file));
}
const messages = Object.fromEntries(LOCALES.map((l) => [l, loadMessages(l)]));
const placeholders = (s: string) => [...s.matchAll(/\{\{\s*(\w+)/g)].map((x) => x[1]).sort();

describe('message files', () => {
  it('finds the texts the code shows', () => {
    expect(used.size).toBeGreaterThan(5);
  });

  describe.each(LOCALES)('%s', (locale) => {
    it.each([...used].map(([key, where]) => [key, where]))('has "%s" (%s)', (key) => {
      const table = messages[locale]!;
      if (/\{\{\s*count\b/.test(key)) {
        expect(table[`${key}_other`]).toEqual(expect.any(String));
        if (locale === 'en') expect(table[`${key}_one`]).toEqual(expect.any(String));
      } else {
        expect(table[key]).toEqual(expect.any(String));
      }
    });
  });

  it.each(LOCALES.filter((l) => l !== 'en'))('%s translates exactly the English entries, with the same placeholders', (locale) => {
    const en = messages.en!;
    const other = messages[locale]!;
    const base = (k: string) => k.replace(/_(zero|one|two|few|many|other)$/, '');
    expect(new Set(Object.keys(other).map(base))).toEqual(new Set(Object.keys(en).map(base)));
    for (const [key, value] of Object.entries(other)) {
      expect([key, placeholders(value)]).toEqual([key, placeholders(en[key] ?? en[`${base(key)}_other`] ?? base(key))]);
    }
  });

  it('no English entry is unused', () => {
    const base = (k: string) => k.replace(/_(one|other)$/, '');
    expect(Object.keys(messages.en!).map(base).filter((k) => !used.has(k))).toEqual([]);
  });

  it('puts values and dates in, escaped on pages', () => {
    const vi = translator('vi');
    const when = new Date(Date.UTC(2026, 10, 29, 14, 49));
    const html = translator('en').html({ text: 'The application sent an invalid sign-in request: {{detail}}', values: { detail: '<b>' } });
    expect(html).toContain('&lt;b&gt;');
    expect(vi.plainDateTime(when)).toMatch(/2026/);
    expect(vi.dateTime(when)).toMatch(/^<time datetime="2026-11-29T14:49:00.000Z" data-local="date-time">.*UTC<\/time>$/);
  });

  it('translates a quoted message (a refusal quoted in a sentence), in text and on pages; a plain string value stays as it is', () => {
    const refusal = m('That user already belongs to another organization.');
    const message = m('{{name}} is created, but {{email}} could not be made its owner: {{reason}}', { name: 'Acme', email: 'a@b.test', reason: quoted(refusal) });
    const expected = 'Đã tạo Acme, nhưng không thể đặt a@b.test làm chủ sở hữu: Người dùng này đã thuộc về một tổ chức khác.';
    expect(translator('vi').text(message)).toBe(expected);
    expect(translator('vi').html(message)).toBe(expected);
    expect(translator('en').text(message)).toBe('Acme is created, but a@b.test could not be made its owner: That user already belongs to another organization.');
    // A name that happens to be a key is a name: only quoted() values are translated.
    const named = m('{{name}} is created, but {{email}} could not be made its owner: {{reason}}', { name: refusal, email: 'a@b.test', reason: quoted(refusal) });
    expect(translator('vi').text(named)).toMatch(/^Đã tạo That user already belongs to another organization\., /);
  });
});
