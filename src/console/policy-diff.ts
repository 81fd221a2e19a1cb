/**
 * The before/after of an audit event as a readable list of changes: only the fields that changed, each
 * with a plain label ("Minimum password length: 8 → 12", "Enforce 2FA: off → on"). Pure, no I/O.
 */
import { m, type Text } from '../i18n/message.js';
import { ROLE_WORDS } from './audit-words.js';

/** Plain labels of the fields the trail's before/after documents hold (security policies, memberships, domains). */
const LABELS: Record<string, Text> = {
  'password.minLength': m('Minimum password length'),
  'password.maxLength': m('Maximum password length'),
  'password.requireUppercase': m('Require an uppercase letter'),
  'password.requireLowercase': m('Require a lowercase letter'),
  'password.requireNumber': m('Require a number'),
  'password.requireSpecial': m('Require a special character'),
  'password.expirationDays': m('Password expires after (days)'),
  'password.historyCount': m('Previous passwords that cannot be reused'),
  'password.minAgeHours': m('Hours before a password may be changed again'),
  'session.webTimeoutHours': m('Web session lifetime (hours)'),
  'session.mobileExpiryHours': m('Mobile session lifetime (hours)'),
  'session.desktopExpiryHours': m('Desktop session lifetime (hours)'),
  'session.webIdleTimeoutMinutes': m('Web idle timeout (minutes)'),
  'session.expireCookieOnBrowserClose': m('End sessions when the browser closes'),
  'session.preventConcurrentWebSessions': m('One web session at a time'),
  'authentication.enforce2fa': m('Enforce 2FA'),
  'login.lockoutThreshold': m('Failed sign-ins before lockout'),
  'login.ipWhitelist.enabled': m('IP whitelist'),
  'login.ipWhitelist.cidrs': m('Allowed addresses'),
  role: m('Role'),
  status: m('Status'),
  name: m('Name'),
  email: m('Email address'),
  failedAttempts: m('Failed sign-ins in a row'),
  lockedUntil: m('Locked until'),
};

/** Fields holding a moment (epoch seconds): shown as a UTC date and time, like the trail's exports. */
const MOMENTS = new Set(['lockedUntil']);
const momentText = (seconds: number): Text => asIs(`${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`);

/** Values that have plain words of their own, by field. */
const VALUE_WORDS: Record<string, Record<string, Text>> = { role: ROLE_WORDS };

export interface Change {
  field: string;
  label: Text;
  from: Text;
  to: Text;
}

/** A value shown as it is (never looked up as a message to translate). */
export const asIs = (value: string): Text => m('{{value}}', { value });

/** How one value reads: on/off for yes/no, "none" for nothing, lists joined with commas. */
export function valueText(value: unknown): Text {
  if (value === true) return m('on');
  if (value === false) return m('off');
  if (value === null || value === undefined) return m('none');
  if (Array.isArray(value)) return value.length ? asIs(value.map(String).join(', ')) : m('none');
  if (typeof value === 'object') return asIs(JSON.stringify(value));
  return asIs(String(value));
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every leaf of a document by its dotted path (arrays are leaves). */
function leaves(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (isRecord(value)) {
    for (const [key, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

/**
 * The changed fields between `before` and `after` (either may be null or missing: a field on one side
 * only counts as changed from or to "none"), in the order the documents list them.
 */
export function describeChanges(before: unknown, after: unknown): Change[] {
  const a = leaves(before);
  const b = leaves(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .filter((f) => JSON.stringify(a.get(f) ?? null) !== JSON.stringify(b.get(f) ?? null))
    .map((field) => {
      const shown = (v: unknown) =>
        (typeof v === 'string' && VALUE_WORDS[field]?.[v]) || (typeof v === 'number' && MOMENTS.has(field) ? momentText(v) : valueText(v));
      return { field, label: LABELS[field] ?? asIs(field), from: shown(a.get(field)), to: shown(b.get(field)) };
    });
}
