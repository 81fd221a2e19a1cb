/**
 * The password rules of a policy (security-policy.md, password.* rows), checked all at once. Pure.
 * Length counts Unicode code points after NFC normalization; "special" is any character that is
 * not a letter or a digit (in any script).
 */
import { m, type Text } from '../i18n/message.js';
import type { SecurityPolicy } from './security-policy.js';

export type PasswordRules = SecurityPolicy['password'];

export type PasswordViolationCode =
  | 'password.too_short'
  | 'password.too_long'
  | 'password.missing_uppercase'
  | 'password.missing_lowercase'
  | 'password.missing_number'
  | 'password.missing_special'
  | 'password.contains_personal_info';

export interface PasswordViolation {
  code: PasswordViolationCode;
  /** For a person, translated where it is shown (src/i18n). */
  message: Text;
  params?: Record<string, number>;
}

export interface PasswordOwner {
  email: string;
  name?: string | null;
}

/** Short, stable descriptions of the rules in force, for showing before the user types. */
export function describeRules(rules: PasswordRules): Text[] {
  return [
    m('{{min}} to {{max}} characters', { min: rules.minLength, max: rules.maxLength }),
    ...(rules.requireUppercase ? [m('an uppercase letter (A–Z)')] : []),
    ...(rules.requireLowercase ? [m('a lowercase letter (a–z)')] : []),
    ...(rules.requireNumber ? [m('a number (0–9)')] : []),
    ...(rules.requireSpecial ? [m('a symbol such as ! @ # or -')] : []),
    m('not your email address or name'),
  ];
}

/** Parts of the owner's identity a password must not contain: the email, its local part, the name's words. */
function personalTerms(owner: PasswordOwner): string[] {
  const email = owner.email.toLowerCase();
  const local = email.slice(0, email.lastIndexOf('@'));
  const words = (owner.name ?? '').toLowerCase().normalize('NFC').split(/\s+/);
  return [email, local, ...words].filter((t) => [...t].length >= 4);
}

/** Every rule the candidate breaks; an empty list means it may be set. */
export function checkPassword(rules: PasswordRules, candidate: string, owner: PasswordOwner): PasswordViolation[] {
  const password = candidate.normalize('NFC');
  const length = [...password].length;
  const v: PasswordViolation[] = [];
  if (length < rules.minLength) {
    v.push({ code: 'password.too_short', message: m('Use at least {{min}} characters.', { min: rules.minLength }), params: { min: rules.minLength } });
  }
  if (length > rules.maxLength) {
    v.push({ code: 'password.too_long', message: m('Use at most {{max}} characters.', { max: rules.maxLength }), params: { max: rules.maxLength } });
  }
  if (rules.requireUppercase && !/[A-Z]/.test(password)) {
    v.push({ code: 'password.missing_uppercase', message: m('Include an uppercase letter (A–Z).') });
  }
  if (rules.requireLowercase && !/[a-z]/.test(password)) {
    v.push({ code: 'password.missing_lowercase', message: m('Include a lowercase letter (a–z).') });
  }
  if (rules.requireNumber && !/[0-9]/.test(password)) {
    v.push({ code: 'password.missing_number', message: m('Include a number (0–9).') });
  }
  if (rules.requireSpecial && !/[^\p{L}\p{N}]/u.test(password)) {
    v.push({ code: 'password.missing_special', message: m('Include a symbol (any character that is not a letter or digit).') });
  }
  const lower = password.toLowerCase();
  if (personalTerms(owner).some((term) => lower.includes(term))) {
    v.push({ code: 'password.contains_personal_info', message: m('Do not use your email address or name in your password.') });
  }
  return v;
}

/** When a password set at `changedAt` (epoch seconds) expires under the rules, or null when it never does. */
export function passwordExpiresAt(rules: PasswordRules, changedAt: number): number | null {
  return rules.expirationDays === null ? null : changedAt + rules.expirationDays * 86400;
}

/** When a user may next change their own password, or null when they may now. */
export function nextChangeAllowedAt(rules: PasswordRules, changedAt: number, now: number): number | null {
  const allowed = changedAt + rules.minAgeHours * 3600;
  return rules.minAgeHours > 0 && now < allowed ? allowed : null;
}
