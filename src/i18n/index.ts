/**
 * The languages of pages and mails.
 *
 * Message files: `locales/<language>/*.json`, each one flat JSON object whose keys are the English text
 * (a translator sees the source sentence next to its translation and never reads code) and whose values
 * are the text in that language. `{{name}}` marks a value put in; keys ending `_one` / `_other` are the
 * plural forms of a text with `{{count}}` (i18next's JSON v4; Vietnamese has only `_other`). All files of
 * a language are merged into one namespace. `test/i18n/messages.test.ts` checks that every text the
 * code and the pages show (`t('…')` in views, `m('…')` in code) has an entry in every language.
 *
 * Which language: the person's own choice on a page (the `gh_lang` cookie, set by a `?lang=` link), then
 * the app's `ui_locales`, then the browser's `Accept-Language`, then DEFAULT_LOCALE.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import i18next, { type i18n } from 'i18next';
import type { Context, Next } from 'koa';
import { LOCALES_DIR } from '../paths.js';

export const LOCALES = ['en', 'vi'] as const;
export type Locale = (typeof LOCALES)[number];
export const isLocale = (value: unknown): value is Locale => LOCALES.includes(value as Locale);
/** Each language's name in that language, for the switcher. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', vi: 'Tiếng Việt' };

export { m, quoted, type Message, type Text } from './message.js';
import type { Message, Text } from './message.js';

/** The message files of one language, merged. */
export function loadMessages(locale: Locale, dir = LOCALES_DIR): Record<string, string> {
  const merged: Record<string, string> = {};
  const folder = join(dir, locale);
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.json')).sort()) {
    const entries = JSON.parse(readFileSync(join(folder, file), 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(entries)) {
      if (typeof value !== 'string') throw new Error(`${locale}/${file}: the value of "${key}" is not a string`);
      if (key in merged) throw new Error(`${locale}/${file}: "${key}" is already in another file of ${locale}`);
      merged[key] = value;
    }
  }
  return merged;
}

let instance: i18n | undefined;
function i18nInstance(): i18n {
  if (instance) return instance;
  const created = i18next.createInstance();
  void created.init({
    resources: Object.fromEntries(LOCALES.map((l) => [l, { translation: loadMessages(l) }])),
    lng: 'en',
    fallbackLng: 'en',
    supportedLngs: [...LOCALES],
    // Keys are English sentences: '.' and ':' in them are text, not paths.
    keySeparator: false,
    nsSeparator: false,
    // Pages escape what they print (ejs <%= %>); mails are plain text.
    interpolation: { escapeValue: false },
    initAsync: false,
    showSupportNotice: false,
  } as Parameters<i18n['init']>[0]);
  instance = created;
  return created;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** A date and time, or a date, in seconds since the epoch or as a Date. */
export type When = Date | number;
const toDate = (w: When) => (w instanceof Date ? w : new Date(w * 1000));

const DATE_TIME: Intl.DateTimeFormatOptions = { dateStyle: 'medium', timeStyle: 'short' };
const DATE: Intl.DateTimeFormatOptions = { dateStyle: 'long' };

/** What a page or a mail uses to speak one language. */
export interface Translator {
  locale: Locale;
  /** Plain text: `t('Signed in {{when}}', { when })`. Dates are written in UTC, saying so. */
  t(text: string, values?: Record<string, unknown>): string;
  /** A Text as plain text. */
  text(message: Text): string;
  /** A Text as HTML: escaped, with each date as a <time> that the page shows in the browser's time zone. */
  html(message: Text): string;
  /** A date and time as HTML <time> (see html). */
  dateTime(when: When): string;
  /** A date as HTML <time>. */
  date(when: When): string;
  /** A date and time as plain text in UTC, saying so (mails). */
  plainDateTime(when: When): string;
}

function makeTranslator(locale: Locale): Translator {
  const fixed = i18nInstance().getFixedT(locale);
  const dateTimeUtc = new Intl.DateTimeFormat(locale, { ...DATE_TIME, timeZone: 'UTC' });
  const dateUtc = new Intl.DateTimeFormat(locale, { ...DATE, timeZone: 'UTC' });
  const plainDateTime = (w: When) => `${dateTimeUtc.format(toDate(w))} UTC`;
  // The server does not know the reader's time zone: it writes UTC, and /assets/local-time.js rewrites
  // each <time data-local> in the browser's own zone and the page's language.
  const timeHtml = (w: When, kind: 'date-time' | 'date') => {
    const d = toDate(w);
    const shown = kind === 'date' ? dateUtc.format(d) : plainDateTime(d);
    return `<time datetime="${d.toISOString()}" data-local="${kind}">${escapeHtml(shown)}</time>`;
  };
  // A value may itself be a Message (a refusal's reason quoted in a page's sentence): translated too.
  const plainValue = (v: unknown): unknown => (v instanceof Date ? plainDateTime(v) : isMessage(v) ? t(v.text, v.values) : v);
  const plainValues = (values?: Record<string, unknown>) => values && Object.fromEntries(Object.entries(values).map(([k, v]) => [k, plainValue(v)]));
  const t = (text: string, values?: Record<string, unknown>): string => fixed(text, plainValues(values) as never) as unknown as string;
  return {
    locale,
    t,
    text: (message) => (typeof message === 'string' ? t(message) : t(message.text, message.values)),
    html(message) {
      if (typeof message === 'string') return escapeHtml(t(message));
      const dates: string[] = [];
      const values = Object.fromEntries(
        Object.entries(message.values ?? {}).map(([k, v]) => {
          if (!(v instanceof Date)) return [k, plainValue(v)];
          dates.push(timeHtml(v, 'date-time'));
          return [k, `\u0001${dates.length - 1}\u0001`];
        }),
      );
      return escapeHtml(fixed(message.text, values as never) as unknown as string).replace(/\u0001(\d+)\u0001/g, (_, i: string) => dates[Number(i)]!);
    },
    dateTime: (w) => timeHtml(w, 'date-time'),
    date: (w) => timeHtml(w, 'date'),
    plainDateTime,
  };
}

const isMessage = (v: unknown): v is Message => typeof v === 'object' && v !== null && typeof (v as Message).text === 'string';

const translators = new Map<Locale, Translator>();
/** The translator for a language (made once). */
export function translator(locale: Locale): Translator {
  let found = translators.get(locale);
  if (!found) translators.set(locale, (found = makeTranslator(locale)));
  return found;
}

/** The first of the space-separated language tags (ui_locales) that Gatehouse has, by primary subtag. */
export function firstSupported(tags: string | undefined | null): Locale | undefined {
  for (const tag of (tags ?? '').split(/\s+/)) {
    const primary = tag.split('-')[0]!.toLowerCase();
    if (isLocale(primary)) return primary;
  }
  return undefined;
}

export const LANGUAGE_COOKIE = 'gh_lang';

interface LocaleState {
  defaultLocale?: Locale;
  /** The app's ui_locales for this request (the sign-in or logout it belongs to). */
  uiLocales?: string;
  /** A language chosen with this very request (`?lang=`), before its cookie comes back. */
  chosen?: Locale;
}

/** The language of this request's page or mail (see the top of this file). */
export function localeOf(ctx: Context): Locale {
  const state = ctx.state as LocaleState;
  const chosen = state.chosen ?? ctx.cookies.get(LANGUAGE_COOKIE);
  if (isLocale(chosen)) return chosen;
  const fromApp = firstSupported(state.uiLocales);
  if (fromApp) return fromApp;
  if (ctx.get('accept-language')) {
    const accepted = ctx.acceptsLanguages([...LOCALES]);
    if (isLocale(accepted)) return accepted;
  }
  return state.defaultLocale ?? 'en';
}

/** A text in this request's language, as plain text (JSON answers, plain bodies). */
export const textFor = (ctx: Context, text: Text): string => translator(localeOf(ctx)).text(text);

/** Records the app's ui_locales for the pages of this request. */
export function useUiLocales(ctx: Context, uiLocales: unknown): void {
  if (typeof uiLocales === 'string') (ctx.state as LocaleState).uiLocales = uiLocales;
}

/**
 * Every request: the default language, and a `?lang=` on a GET (the switcher's links) kept as the
 * person's choice in a cookie for a year. Any other value is ignored.
 */
export function languages(defaultLocale: Locale) {
  return async (ctx: Context, next: Next) => {
    (ctx.state as LocaleState).defaultLocale = defaultLocale;
    const asked = ctx.method === 'GET' ? ctx.query.lang : undefined;
    if (isLocale(asked)) {
      ctx.cookies.set(LANGUAGE_COOKIE, asked, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', maxAge: 365 * 86400_000, overwrite: true });
      (ctx.state as LocaleState).chosen = asked;
    }
    await next();
  };
}
