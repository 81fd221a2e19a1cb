/**
 * Stored security-policy documents and their schema versions. Pure: no I/O.
 *
 * Every stored document carries the version of the shape it was written in. Reading one upgrades it
 * step by step to the current version, then validates it; a document that cannot be read is an error,
 * never the defaults: a policy that silently fell back to the defaults would switch off an
 * organization's 2FA enforcement and IP whitelist (fail closed).
 *
 * Changing the document's shape: bump POLICY_DOCUMENT_VERSION, add the step that turns the previous
 * version into the new one to UPGRADES, and add a migration that calls upgradeStoredPolicies (as
 * migrations/20261128000013_policy_documents.ts does) so that stored documents are rewritten too.
 */
import { securityPolicySchema, toFieldErrors, type SecurityPolicy } from './security-policy.js';

export const POLICY_DOCUMENT_VERSION = 1;

type Document = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Document => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The defaults as they were when version 1 was defined. Frozen here on purpose: when a default changes
 * later, documents upgraded from version 0 must still get the values that were in force for them.
 */
const VERSION_1_DEFAULTS: Document = {
  password: {
    minLength: 8,
    maxLength: 24,
    requireUppercase: true,
    requireLowercase: true,
    requireNumber: true,
    requireSpecial: false,
    expirationDays: null,
    historyCount: null,
    minAgeHours: 24,
  },
  session: {
    webTimeoutHours: 24,
    mobileExpiryHours: null,
    desktopExpiryHours: null,
    webIdleTimeoutMinutes: null,
    expireCookieOnBrowserClose: false,
    preventConcurrentWebSessions: true,
  },
  authentication: { enforce2fa: false },
  login: { lockoutThreshold: 5, ipWhitelist: { enabled: false, cidrs: [] } },
};

/** Fills fields missing from `doc` from `defaults`, recursively; never overwrites a field that is there (null included). */
function fillMissing(doc: Document, defaults: Document): Document {
  const out: Document = { ...doc };
  for (const [key, value] of Object.entries(defaults)) {
    if (!(key in out)) out[key] = structuredClone(value);
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = fillMissing(out[key] as Document, value);
  }
  return out;
}

/** UPGRADES[n] turns a version-n document into version n + 1. Version 0: documents stored before versions existed. */
const UPGRADES: Array<(doc: Document) => Document> = [
  // 0 → 1: every field written out, so that a later change of a default does not change a stored policy.
  (doc) => fillMissing(doc, VERSION_1_DEFAULTS),
];

export type Upgraded = { ok: true; document: Document; version: number } | { ok: false; reason: string };

/** A stored document (parsed JSON) brought to the current version; refuses what is not an object or from the future. */
export function upgradePolicyDocument(document: unknown, version: number): Upgraded {
  if (!isPlainObject(document)) return { ok: false, reason: 'the document is not a JSON object' };
  if (!Number.isInteger(version) || version < 0) return { ok: false, reason: `unknown schema version ${version}` };
  // A newer node wrote it (during a rolling upgrade, or after a downgrade): this code cannot know what it means.
  if (version > POLICY_DOCUMENT_VERSION) return { ok: false, reason: `schema version ${version} is newer than this Gatehouse understands (${POLICY_DOCUMENT_VERSION})` };
  let doc = document;
  for (let v = version; v < POLICY_DOCUMENT_VERSION; v++) doc = UPGRADES[v]!(doc);
  return { ok: true, document: doc, version: POLICY_DOCUMENT_VERSION };
}

export type PolicyRead = { ok: true; policy: SecurityPolicy } | { ok: false; reason: string };

/** Stored text → the policy it holds, or why it cannot be read (not JSON, unknown version, a field out of range, …). */
export function readPolicyDocument(text: string, version: number): PolicyRead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the document is not valid JSON' };
  }
  const upgraded = upgradePolicyDocument(parsed, version);
  if (!upgraded.ok) return upgraded;
  const result = securityPolicySchema.safeParse(upgraded.document);
  if (result.success) return { ok: true, policy: result.data };
  return { ok: false, reason: toFieldErrors(result.error).map((e) => `${e.field} ${e.message}`).join('; ') };
}
