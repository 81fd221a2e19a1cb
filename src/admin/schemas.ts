/** Request and response shapes of the admin API: validation and the OpenAPI document both come from here. */
import { z } from 'zod';
import { securityPolicySchema } from '../policy/security-policy.js';
import { SESSION_TYPES } from '../services/clients.js';
import { ORG_ROLES } from '../services/organizations.js';
import { MAX_TEXT, textProblem } from '../http/input-guard.js';
import { pathParams } from './route.js';

/**
 * Every string the admin API accepts: the input guard's rule (valid Unicode, no control characters)
 * as a zod check, so that a problem document names the offending field even for input that did not
 * come through the guard. Passwords may contain control characters other than NUL.
 */
const refuseBadText = (password: boolean) => (value: string, ctx: z.core.$RefinementCtx<string>) => {
  const message = textProblem(value, { password, max: Number.MAX_SAFE_INTEGER });
  if (message) ctx.addIssue({ code: 'custom', message });
};
export const text = (max = MAX_TEXT) => z.string().max(max, `must be at most ${max} characters`).superRefine(refuseBadText(false));
export const passwordText = (max = MAX_TEXT) => z.string().max(max, `must be at most ${max} characters`).superRefine(refuseBadText(true));

const id = text(255).min(1);
/** A route's path parameters ({orgId}, {userId}, …), each a non-empty id-like text. */
export const pathParamsOf = (path: string) => z.object(Object.fromEntries(pathParams(path).map((name) => [name, id])));
const timestamp = z.string().describe('RFC 3339 UTC timestamp');
export const limit = z.coerce.number().int().min(1).max(200).default(50).describe('Page size');

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .describe('RFC 9457 problem document');

export const organizationSchema = z.object({ id, name: z.string(), createdAt: timestamp });
export const organizationListQuery = z.strictObject({
  q: text(200)
    .transform((v) => v.normalize('NFC').trim().toLowerCase())
    .pipe(z.string().min(1, 'must not be empty'))
    .optional()
    .describe('Part of the name, ignoring case'),
  cursor: id.optional(),
  limit,
});
export const newOrganizationSchema = z.strictObject({ name: text(200).min(1) });

export const memberSchema = z.object({ userId: id, email: z.string(), name: z.string().nullable(), role: z.enum(ORG_ROLES) });
export const newMemberSchema = z.strictObject({ userId: id, role: z.enum(ORG_ROLES).default('member') });

export const domainClaimSchema = z.object({
  domain: z.string(),
  status: z.enum(['pending', 'verified', 'revoked']),
  verification: z.object({ type: z.literal('dns-txt'), name: z.string(), value: z.string() }),
  createdAt: timestamp,
  verifiedAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
  revokedReason: z.string().nullable(),
  lastCheckedAt: timestamp.nullable(),
});
export const newDomainSchema = z.strictObject({ domain: text(253).min(1) });
export const verifyDomainSchema = z
  .strictObject({ force: z.boolean().default(false).describe('Platform admins only: verify without DNS') })
  .default({ force: false });

/** The policy as documents show it; bodies are validated field by field by the policy service. */
export const policyDocSchema = securityPolicySchema;
const policyBody = z.record(text(256), z.unknown());
export const policyEnvelopeSchema = z.object({ active: z.boolean().describe('true while the organization has a verified domain'), policy: policyDocSchema });
export const policyUpdateSchema = z.strictObject({
  policy: policyBody,
  confirmLockout: z.boolean().default(false).describe('Save an IP whitelist that excludes your current address'),
});
export const policyUpdateDocSchema = z.object({ policy: policyDocSchema, confirmLockout: z.boolean().optional() });
export const previewSchema = z.strictObject({ policy: policyBody });
export const previewDocSchema = z.object({ policy: policyDocSchema });
export const previewResultSchema = z.object({
  governedUsers: z.number().int(),
  mustChangePassword: z.number().int().describe('Users whose password is already older than the new expiry'),
  mustEnroll2fa: z.number().int().describe('Users who would have to enroll in 2FA at next sign-in'),
  callerAddress: z.string().nullable(),
  callerOutsideWhitelist: z.boolean(),
});
export const baselineSchema = z.object({ policy: policyDocSchema });
export const baselineUpdateSchema = z.strictObject({ policy: policyBody });

export const factorSchema = z.object({
  id,
  kind: z.enum(['totp', 'passkey']).describe('totp: an authenticator app; passkey: a WebAuthn credential'),
  label: z.string().describe('The user\'s name for it, or a default ("Authenticator app")'),
  createdAt: timestamp,
  lastUsedAt: timestamp.nullable().describe('Last sign-in with it; null: not used since it was added'),
  deviceType: z
    .enum(['singleDevice', 'multiDevice'])
    .optional()
    .describe('Passkeys only: bound to one device (security key, amr "hwk") or synced between devices (amr "swk")'),
});
export const userSchema = z.object({
  id,
  email: z.string(),
  name: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  organizationId: z.string().nullable(),
  role: z.enum(ORG_ROLES).nullable(),
  passwordChangedAt: timestamp,
  passwordExpiresAt: timestamp.nullable().describe('Under the policy that governs the user now; null when passwords do not expire'),
  mustChangePassword: z.boolean(),
  twoFactorEnabled: z.boolean().describe('The user has at least one second factor (see factors)'),
  factors: z.array(factorSchema).describe('Second factors, oldest first; POST /users/{userId}/reset-2fa removes all of them'),
  emailVerified: z.boolean().describe('The user followed an invitation or password-reset link mailed to the address'),
  lockedUntil: timestamp.nullable().describe('Set while the account is locked after repeated failed sign-ins'),
  platformAdmin: z.boolean().describe('A platform administrator: may do in the admin API everything the bootstrap client can. Set only with the CLI'),
  createdAt: timestamp,
});
export const passwordResetSchema = z
  .strictObject({ requireChangeAtNextSignIn: z.boolean().default(false) })
  .default({ requireChangeAtNextSignIn: false });
export const passwordResetResultSchema = z.object({ emailedTo: z.string(), requireChangeAtNextSignIn: z.boolean() });
export const newUserSchema = z.strictObject({
  email: text(320),
  password: passwordText(4096).optional().describe('Required unless invite is true'),
  invite: z
    .boolean()
    .optional()
    .describe('Create the user without a password and email them a link to choose one (single use, INVITATION_TTL_HOURS); leave password out'),
  name: text(200).optional(),
  organizationId: id.optional(),
});
/** A yes/no query parameter: exactly "true" or "false". */
const flag = (description: string) =>
  z.enum(['true', 'false']).transform((v) => v === 'true').optional().describe(`${description}; false: the opposite`);
export const userListQuery = z.strictObject({
  email: text(320).optional().describe('Exactly this address'),
  q: text(200)
    .transform((v) => v.normalize('NFC').trim().toLowerCase())
    .pipe(z.string().min(1, 'must not be empty'))
    .optional()
    .describe('Search, ignoring case: the start of the email address, or (text without "@") part of the name'),
  locked: flag('true: only accounts locked now after repeated failed sign-ins'),
  noSecondFactor: flag('true: only accounts with neither an authenticator app nor a passkey'),
  passwordExpiring: flag('true: only accounts whose password expires within 14 days under the policy governing them (or has expired)'),
  disabled: flag('true: only disabled accounts'),
  organizationId: id.optional().describe('Only the members of this organization'),
  reachedBy: id
    .optional()
    .describe('Only the accounts this organization reaches: its members and the accounts on its verified domains (an organization admin: their own)'),
  cursor: id.optional(),
  limit,
});
export const userDetailSchema = userSchema.extend({ recoveryCodesLeft: z.number().int().describe('Unused recovery codes') });
/** An app a user is signed in to: its client id and its registered name (the id, for a client deleted since). */
const sessionApp = z.object({ clientId: z.string(), name: z.string() });
export const userSessionsSchema = z.object({
  sessions: z
    .array(
      z.object({
        handle: z.string().describe('Stands for the session (its id never leaves the server)'),
        signedInAt: timestamp.nullable(),
        lastUsedAt: timestamp.nullable(),
        expiresAt: timestamp.nullable(),
        ip: z.string().nullable(),
        userAgent: z.string().nullable(),
        apps: z.array(sessionApp).describe('The apps signed in through this browser session'),
      }),
    )
    .describe('Live browser sessions, newest sign-in first'),
  apps: z
    .array(sessionApp.extend({ handle: z.string(), grantedAt: timestamp.nullable(), expiresAt: timestamp.nullable() }))
    .describe('Apps holding refresh tokens without a live browser session (mobile, desktop)'),
});
export const endedSessionsSchema = z.object({ endedSessions: z.number().int(), revokedGrants: z.number().int() });
export const effectivePolicySchema = z.object({
  source: z.enum(['organization', 'baseline']),
  organizationId: z.string().nullable(),
  domain: z.string().nullable(),
  policy: policyDocSchema,
});

export const clientSchema = z.object({
  client_id: id,
  client_name: z.string(),
  session_type: z.enum(SESSION_TYPES),
  first_party: z.boolean(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  backchannel_logout_uri: z.string().nullable(),
  token_endpoint_auth_method: z.string(),
  created_at: timestamp,
});
export const clientWithOriginSchema = clientSchema.extend({
  built_in: z.boolean().describe("Gatehouse's own client (the console's, the bootstrap client): kept in step with the configuration, not deleted or rotated through the API"),
});
export const pageQuery = z.strictObject({ cursor: id.optional(), limit });
export const rotatedSecretSchema = z.object({ client_id: id, client_secret: z.string().describe('Shown once; the previous secret no longer works') });
export const createdClientSchema = clientSchema.extend({ client_secret: z.string().optional().describe('Shown once, for web clients') });
export const newClientSchema = z.strictObject({
  client_name: text(200).min(1),
  session_type: z.enum(SESSION_TYPES),
  redirect_uris: z.array(text(2048)).min(1).max(100),
  post_logout_redirect_uris: z.array(text(2048)).max(100).default([]),
  backchannel_logout_uri: text(2048).optional(),
  third_party: z.boolean().default(false),
});
/**
 * A registration's new content (PUT): everything a registration says but the session type, which stays.
 * No defaults: a field left out must not quietly change the client (a third party made first party
 * would skip consent). Only the back-channel logout URI may be left out (none).
 */
export const clientChangesSchema = z.strictObject({
  client_name: text(200).min(1),
  redirect_uris: z.array(text(2048)).min(1).max(100),
  post_logout_redirect_uris: z.array(text(2048)).max(100),
  backchannel_logout_uri: text(2048).optional(),
  third_party: z.boolean(),
});

export const keyRotationSchema = z.object({
  current: z.string().describe('Key ID now signing (the previous next key)'),
  next: z.string().describe('Key ID newly published, to sign from the next rotation'),
  retired: z.array(z.string()).describe('Key IDs published for verification only'),
  removed: z.array(z.string()).describe('Retired key IDs no longer published: nothing they signed is still valid'),
});

export const signingKeySchema = z.object({
  kid: z.string(),
  alg: z.string(),
  state: z.enum(['current', 'next', 'retired']).describe('current: signs; next: published, signs from the next rotation; retired: published for verification only'),
  createdAt: timestamp,
  stateChangedAt: timestamp,
});
export const signingKeyListSchema = z.object({ items: z.array(signingKeySchema).describe('Public facts only: the current key, the next, then the retired ones') });

export const eventSchema = z.object({
  id: z.string(),
  at: timestamp,
  type: z.string(),
  actorType: z.enum(['client', 'user', 'anonymous', 'system']),
  actorId: z.string().nullable(),
  organizationId: z.string().nullable(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable().describe('The X-Request-Id of the request during which the event was recorded; null for background jobs'),
  data: z.record(z.string(), z.unknown()).nullable(),
});
export const eventQuery = z.strictObject({
  type: text(1024).optional().describe('Comma-separated event types'),
  user: id.optional().describe('Only events by this user (the actor) or about them (the target): a user id'),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().regex(/^\d{1,15}$/).optional(),
  limit,
});

export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
