/**
 * The security-policy document of ../shared/spec/security-policy.md: every field, default and range,
 * declared once. Used to validate admin input, to fill defaults, for the OpenAPI document and the docs.
 * Pure: no I/O.
 */
import { z } from 'zod';
import { ipEntryProblem } from './ip.js';

export const EXPIRATION_DAYS = [90, 180, 270, 365] as const;
export const LOCKOUT_THRESHOLD = 5;

const int = (min: number, max: number) =>
  z.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const bool = (value: boolean) => z.boolean({ message: 'must be true or false' }).default(value);
const inRange = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

const passwordSchema = z.strictObject({
  minLength: int(6, 64).default(8).describe('Minimum password length, in Unicode code points after NFC'),
  maxLength: int(10, 64).default(24).describe('Maximum password length; at least minLength'),
  requireUppercase: bool(true).describe('At least one of A–Z'),
  requireLowercase: bool(true).describe('At least one of a–z'),
  requireNumber: bool(true).describe('At least one of 0–9'),
  requireSpecial: bool(false).describe('At least one character that is not a letter or digit'),
  expirationDays: z
    .union(EXPIRATION_DAYS.map((d) => z.literal(d)) as unknown as [z.ZodLiteral<90>, z.ZodLiteral<180>, z.ZodLiteral<270>, z.ZodLiteral<365>])
    .nullable()
    .default(null)
    .describe('Days until a password must be changed: null (disabled), 90, 180, 270 or 365'),
  historyCount: int(5, 10).nullable().default(null).describe('The last N passwords cannot be reused; null disables'),
  minAgeHours: int(0, 8760).default(24).describe('Hours before a user may change their password again; 0 disables'),
});

const sessionSchema = z.strictObject({
  webTimeoutHours: int(1, 8760).default(24).describe('Absolute lifetime of a web session'),
  mobileExpiryHours: int(1, 87600).nullable().default(null).describe('Absolute lifetime of a mobile session; null disables'),
  desktopExpiryHours: int(1, 87600).nullable().default(null).describe('Absolute lifetime of a desktop session; null disables'),
  webIdleTimeoutMinutes: int(1, 8760 * 60)
    .nullable()
    .default(null)
    .describe('Minutes without activity that end a web session; at most webTimeoutHours × 60; null disables'),
  expireCookieOnBrowserClose: bool(false).describe('Session cookie without Expires/Max-Age'),
  preventConcurrentWebSessions: bool(true).describe('A new web sign-in ends the user\'s other web sessions'),
});

const authenticationSchema = z.strictObject({
  enforce2fa: bool(false).describe('Every governed user must pass TOTP (or a recovery code)'),
});

const loginSchema = z.strictObject({
  lockoutThreshold: z
    .literal(LOCKOUT_THRESHOLD, { message: `is fixed at ${LOCKOUT_THRESHOLD}` })
    .default(LOCKOUT_THRESHOLD)
    .describe('Consecutive failures that lock the account; fixed at 5'),
  ipWhitelist: z
    .strictObject({
      enabled: bool(false),
      cidrs: z
        .array(
          z.string().superRefine((entry, ctx) => {
            const problem = ipEntryProblem(entry);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }),
        )
        .max(500)
        .default([])
        .describe('Allowed addresses and CIDR blocks, canonical forms only: IPv4 dotted quads, IPv6 hexadecimal groups, network addresses'),
    })
    .default({ enabled: false, cidrs: [] }),
});

/** A complete policy: missing fields take their defaults. */
export const securityPolicySchema = z
  .strictObject({
    password: passwordSchema.default(passwordSchema.parse({})),
    session: sessionSchema.default(sessionSchema.parse({})),
    authentication: authenticationSchema.default(authenticationSchema.parse({})),
    login: loginSchema.default(loginSchema.parse({})),
  })
  .superRefine((p, ctx) => {
    // Cross-field rules speak only when both fields are valid on their own, so each mistake is reported once.
    const { minLength, maxLength } = p.password;
    if (inRange(minLength, 6, 64) && inRange(maxLength, 10, 64) && maxLength < minLength) {
      ctx.addIssue({ code: 'custom', path: ['password', 'maxLength'], message: 'must be greater than or equal to password.minLength' });
    }
    const { webIdleTimeoutMinutes: idle, webTimeoutHours: hours } = p.session;
    if (inRange(idle, 1, 8760 * 60) && inRange(hours, 1, 8760) && idle > hours * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['session', 'webIdleTimeoutMinutes'],
        message: 'must be at most session.webTimeoutHours × 60',
      });
    }
    if (p.login.ipWhitelist.enabled && p.login.ipWhitelist.cidrs.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['login', 'ipWhitelist', 'cidrs'], message: 'must list at least one address when the whitelist is enabled' });
    }
  });

export type SecurityPolicy = z.output<typeof securityPolicySchema>;
export type PolicyInput = z.input<typeof securityPolicySchema>;

export const DEFAULT_POLICY: SecurityPolicy = securityPolicySchema.parse({});

export interface FieldError {
  field: string;
  message: string;
}

export type PolicyValidation = { ok: true; policy: SecurityPolicy } | { ok: false; errors: FieldError[] };

/** Field path of a zod issue in the contract's dotted form: password.minLength, login.ipWhitelist.cidrs.2. */
export const fieldOf = (path: ReadonlyArray<PropertyKey>) => path.map(String).join('.');

export function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldOf([...issue.path, key]), message: 'is not a policy field' }))
      : [{ field: fieldOf(issue.path) || '(policy)', message: issue.message }],
  );
}

/** PUT: the document replaces the policy; fields it leaves out return to their defaults. */
export function validatePolicy(input: unknown): PolicyValidation {
  const parsed = securityPolicySchema.safeParse(input);
  return parsed.success ? { ok: true, policy: parsed.data } : { ok: false, errors: toFieldErrors(parsed.error) };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** PATCH: a JSON merge (RFC 7396 style, arrays replaced) of the patch onto the current policy, then validated whole. */
export function mergePolicy(current: SecurityPolicy, patch: unknown): PolicyValidation {
  if (!isPlainObject(patch)) return { ok: false, errors: [{ field: '(policy)', message: 'must be a JSON object' }] };
  const merge = (base: unknown, change: unknown): unknown => {
    if (!isPlainObject(change) || !isPlainObject(base)) return change;
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(change)) out[k] = merge(base[k], v);
    return out;
  };
  return validatePolicy(merge(current, patch));
}
