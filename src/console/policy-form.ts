/**
 * The security-policy editor's form, shared by an organization's Security Policies page and the platform's
 * Baseline policy page: the seed's groups and settings (their wording and order), the form fields of each
 * setting, reading a submitted form into a policy document, and placing the API's field errors.
 */
import { m, type Text } from '../i18n/message.js';
import { DEFAULT_POLICY, EXPIRATION_DAYS, LOCKOUT_THRESHOLD, type SecurityPolicy } from '../policy/security-policy.js';
import type { FieldProblem } from '../services/errors.js';

interface Option {
  value: string;
  label: Text;
}
type Control =
  | { kind: 'number'; min: number; max: number; unit: Text }
  | { kind: 'switch' }
  | { kind: 'select'; options: Option[] }
  /** null (Disabled) or a number: a checkbox that sets a limit, and the number. */
  | { kind: 'limit'; min: number; max: number; unit: Text }
  | { kind: 'fixed'; text: Text }
  | { kind: 'whitelist' };

export interface Setting {
  /** The contract's field path (login.ipWhitelist for the whitelist's two fields). */
  path: string;
  label: Text;
  description: Text;
  control: Control;
}
export interface Group {
  id: string;
  legend: Text;
  settings: Setting[];
}

const HOURS = m('hours');
const DISABLED = m('Disabled');

/** The seed's four groups, in its order, with its names and descriptions. */
export const GROUPS: Group[] = [
  {
    id: 'password',
    legend: m('Password Policies'),
    settings: [
      { path: 'password.minLength', label: m('Minimum Password Length'), description: m('Minimum number of characters a user must input to set a password.'), control: { kind: 'number', min: 6, max: 64, unit: m('characters') } },
      { path: 'password.maxLength', label: m('Maximum Password Length'), description: m('Maximum number of characters a user can input while setting up the password.'), control: { kind: 'number', min: 10, max: 64, unit: m('characters') } },
      { path: 'password.requireUppercase', label: m('Require at Least One Uppercase Letter'), description: m('If enabled, every password must include at least one capital letter (A–Z). Increases password complexity and reduces the risk of unauthorized access.'), control: { kind: 'switch' } },
      { path: 'password.requireLowercase', label: m('Require at Least One Lowercase Letter'), description: m('If enabled, every password must include at least one small letter (a–z). Ensures a mix of character types in the password.'), control: { kind: 'switch' } },
      { path: 'password.requireNumber', label: m('Require at Least One Number'), description: m('Every password must include at least one numerical digit (0–9).'), control: { kind: 'switch' } },
      { path: 'password.requireSpecial', label: m('Require at Least One Non-Alphanumeric Character'), description: m('Every password must include at least one special character (e.g., !, @, #, $, %, ^, &, *, -, _, +, =). Increases complexity and makes passwords harder to crack.'), control: { kind: 'switch' } },
      {
        path: 'password.expirationDays',
        label: m('Enable Password Expiration'),
        description: m('If enabled, passwords must be changed after a set period. Ensures passwords are regularly updated, reducing the risk of compromised credentials being used long-term.'),
        control: { kind: 'select', options: [{ value: '', label: DISABLED }, ...EXPIRATION_DAYS.map((d) => ({ value: String(d), label: m('{{days}} days', { days: d }) }))] },
      },
      {
        path: 'password.historyCount',
        label: m('Prevent Password Reuse'),
        description: m('If enabled, users cannot reuse a previously used password when creating a new one.'),
        control: { kind: 'select', options: [{ value: '', label: DISABLED }, ...[5, 6, 7, 8, 9, 10].map((n) => ({ value: String(n), label: m('Last {{number}}', { number: n }) }))] },
      },
      { path: 'password.minAgeHours', label: m('Minimum Password Age (in hours)'), description: m('After resetting a password, users must wait this duration before changing it again. Default: 24 hours. Set to 0 to disable. Does not apply to Forgot Password resets.'), control: { kind: 'number', min: 0, max: 8760, unit: HOURS } },
    ],
  },
  {
    id: 'session',
    legend: m('Session Policies'),
    settings: [
      { path: 'session.webTimeoutHours', label: m('Web Session Timeout (in hours)'), description: m('Total duration a web session can remain active regardless of user activity. Default: 24 hours.'), control: { kind: 'number', min: 1, max: 8760, unit: HOURS } },
      { path: 'session.mobileExpiryHours', label: m('Mobile Session Expiry Time (in hours)'), description: m("Duration a user's mobile app session remains active before auto-logout. Default: Disabled."), control: { kind: 'limit', min: 1, max: 87600, unit: HOURS } },
      { path: 'session.desktopExpiryHours', label: m('Desktop Session Expiry Time (in hours)'), description: m('Duration a desktop application session remains active before auto-expiry. Default: Disabled.'), control: { kind: 'limit', min: 1, max: 87600, unit: HOURS } },
      { path: 'session.webIdleTimeoutMinutes', label: m('Web Session Idle Timeout (in minutes)'), description: m('Duration of inactivity after which a web session will expire. Default: Disabled.'), control: { kind: 'limit', min: 1, max: 8760 * 60, unit: m('minutes') } },
      { path: 'session.expireCookieOnBrowserClose', label: m('Expire Cookie When Browser Closes'), description: m("Session cookie is deleted automatically when the browser is closed. Prevents unauthorized access if someone else uses the same device after the user's session. Default: Disabled."), control: { kind: 'switch' } },
      { path: 'session.preventConcurrentWebSessions', label: m('Prevent Concurrent Active Web Sessions'), description: m('Restricts users from being logged into the same account from multiple devices or browsers at the same time. Default: Enabled.'), control: { kind: 'switch' } },
    ],
  },
  {
    id: 'authentication',
    legend: m('Authentication Policy'),
    settings: [
      { path: 'authentication.enforce2fa', label: m('Enforce 2FA for the Whole Domain'), description: m('All users in the organization must use two-factor authentication (2FA) to log in. 2FA requires a second form of verification (e.g., authenticator app code) in addition to the password. Ensures unauthorized access is blocked even if a password is compromised. Default: Disabled.'), control: { kind: 'switch' } },
    ],
  },
  {
    id: 'login',
    legend: m('Login Security'),
    settings: [
      { path: 'login.lockoutThreshold', label: m('Login Lockout'), description: m('Temporarily disables account access after 5 consecutive failed login attempts. Protects against brute-force attacks.'), control: { kind: 'fixed', text: m('{{number}} consecutive failed attempts (fixed)', { number: LOCKOUT_THRESHOLD }) } },
      { path: 'login.ipWhitelist', label: m('Configure IP Whitelisting'), description: m('Restricts login access to approved and trusted IP addresses only. Users connecting from non-whitelisted IP addresses will be denied access.'), control: { kind: 'whitelist' } },
    ],
  },
];

export const SETTINGS: Setting[] = GROUPS.flatMap((g) => g.settings);

/** The form's field names: the contract's paths; a limit's checkbox is `<path>.set`, the whitelist's are `.enabled` and `.cidrs`. */
export const WHITELIST_ENABLED = 'login.ipWhitelist.enabled';
export const WHITELIST_CIDRS = 'login.ipWhitelist.cidrs';
const limitSet = (path: string) => `${path}.set`;

/** The submitted form's values, by field name, as entered (shown again, and carried to the preview's Save form). */
export type FormValues = Record<string, string>;

const get = (policy: SecurityPolicy, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], policy);

/** A stored policy as the form's values. */
export function valuesOf(policy: SecurityPolicy): FormValues {
  const values: FormValues = {};
  for (const { path, control } of SETTINGS) {
    const v = get(policy, path);
    if (control.kind === 'number') values[path] = String(v);
    else if (control.kind === 'switch') values[path] = v ? 'true' : '';
    else if (control.kind === 'select') values[path] = v === null ? '' : String(v);
    else if (control.kind === 'limit') {
      values[limitSet(path)] = v === null ? '' : 'true';
      values[path] = v === null ? '' : String(v);
    } else if (control.kind === 'whitelist') {
      values[WHITELIST_ENABLED] = policy.login.ipWhitelist.enabled ? 'true' : '';
      values[WHITELIST_CIDRS] = policy.login.ipWhitelist.cidrs.join('\n');
    }
  }
  return values;
}

/** Every field name the form has (the ones valuesOf fills). */
const FIELD_NAMES = Object.keys(valuesOf(DEFAULT_POLICY));

/** The form's values from a submitted body: only the editor's own fields, strings only. */
export function valuesFromBody(body: unknown): FormValues {
  const source = (body ?? {}) as Record<string, unknown>;
  const values: FormValues = {};
  for (const name of FIELD_NAMES) {
    const v = source[name];
    values[name] = typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '';
  }
  return values;
}

/** A whole number as a number; anything else is passed on as typed, so the API names the mistake in its words. */
const numberOrText = (raw: string): number | string => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw.trim());

/** The candidate policy document (PUT semantics) of the form's values. */
export function policyOf(values: FormValues): Record<string, Record<string, unknown>> {
  const doc: Record<string, Record<string, unknown>> = { password: {}, session: {}, authentication: {}, login: {} };
  for (const { path, control } of SETTINGS) {
    const [group, key] = path.split('.') as [string, string];
    const v = values[path] ?? '';
    if (control.kind === 'number') doc[group]![key] = numberOrText(v);
    else if (control.kind === 'switch') doc[group]![key] = v === 'true';
    else if (control.kind === 'select') doc[group]![key] = v === '' ? null : numberOrText(v);
    else if (control.kind === 'limit') doc[group]![key] = values[limitSet(path)] === 'true' ? numberOrText(v) : null;
    else if (control.kind === 'whitelist') {
      doc.login!.ipWhitelist = {
        enabled: values[WHITELIST_ENABLED] === 'true',
        cidrs: (values[WHITELIST_CIDRS] ?? '').split(/[\s,]+/).filter(Boolean),
      };
    }
  }
  return doc;
}

/**
 * The API's field errors placed on the form: each under the setting whose control it names (a whitelist
 * entry's error, `login.ipWhitelist.cidrs.2`, under the list, naming the entry); the rest go above the form.
 */
export function placeErrors(problems: FieldProblem[], values: FormValues): { byField: Record<string, Text[]>; general: Text[] } {
  const byField: Record<string, Text[]> = {};
  const general: Text[] = [];
  const entries = policyOf(values).login!.ipWhitelist as { cidrs: string[] };
  for (const p of problems) {
    const text = p.text ?? p.message;
    const entry = /^login\.ipWhitelist\.cidrs\.(\d+)$/.exec(p.field);
    if (entry) {
      (byField[WHITELIST_CIDRS] ??= []).push(m('{{entry}}: {{problem}}', { entry: entries.cidrs[Number(entry[1])] ?? '', problem: text }));
      continue;
    }
    const field = p.field === 'login.ipWhitelist.enabled' ? WHITELIST_ENABLED : p.field;
    if (SETTINGS.some((s) => s.path === field) || field === WHITELIST_CIDRS || field === WHITELIST_ENABLED) (byField[field] ??= []).push(text);
    else general.push(m('{{field}}: {{problem}}', { field: p.field, problem: text }));
  }
  return { byField, general };
}

/** A setting's value in words, for the list of changes. */
function shown(setting: Setting, policy: SecurityPolicy): Text {
  const v = get(policy, setting.path);
  const c = setting.control;
  if (c.kind === 'switch') return v ? m('Enabled') : DISABLED;
  if (c.kind === 'select') return c.options.find((o) => o.value === (v === null ? '' : String(v)))?.label ?? String(v);
  if (c.kind === 'whitelist') {
    const w = policy.login.ipWhitelist;
    return w.enabled ? w.cidrs.join(', ') : DISABLED;
  }
  return v === null ? DISABLED : String(v);
}

/** The settings a candidate changes, each with its value before and after. */
export function changesBetween(before: SecurityPolicy, after: SecurityPolicy): { label: Text; before: Text; after: Text }[] {
  return SETTINGS.filter((s) => JSON.stringify(get(before, s.path)) !== JSON.stringify(get(after, s.path))).map((s) => ({
    label: s.label,
    before: shown(s, before),
    after: shown(s, after),
  }));
}

/** Which sessions a candidate ends or shortens, in words (a lifetime lowered or newly set). */
export function sessionsEnding(before: SecurityPolicy, after: SecurityPolicy): Text[] {
  const out: Text[] = [];
  const lower = (a: number | null, b: number | null) => b !== null && (a === null || b < a);
  const b = before.session;
  const a = after.session;
  if (lower(b.webTimeoutHours, a.webTimeoutHours)) out.push(m('Web sessions signed in more than {{hours}} hours ago end when next used.', { hours: a.webTimeoutHours }));
  if (lower(b.webIdleTimeoutMinutes, a.webIdleTimeoutMinutes)) out.push(m('Web sessions idle for more than {{minutes}} minutes end when next used.', { minutes: a.webIdleTimeoutMinutes }));
  if (lower(b.mobileExpiryHours, a.mobileExpiryHours)) out.push(m('Mobile app sessions signed in more than {{hours}} hours ago end when next used.', { hours: a.mobileExpiryHours }));
  if (lower(b.desktopExpiryHours, a.desktopExpiryHours)) out.push(m('Desktop app sessions signed in more than {{hours}} hours ago end when next used.', { hours: a.desktopExpiryHours }));
  if (!b.preventConcurrentWebSessions && a.preventConcurrentWebSessions) out.push(m("A user's next web sign-in ends their other web sessions."));
  const whitelist = (p: SecurityPolicy) => JSON.stringify(p.login.ipWhitelist.enabled ? p.login.ipWhitelist.cidrs : null);
  if (after.login.ipWhitelist.enabled && whitelist(before) !== whitelist(after)) out.push(m('Sessions used from an address outside the IP whitelist are refused.'));
  return out;
}
