import type { Knex } from 'knex';
import * as foundation from './20261128000001_foundation.js';
import * as organizations from './20261128000002_organizations.js';
import * as passwords from './20261128000003_passwords.js';
import * as lockout from './20261128000004_lockout.js';
import * as twoFactor from './20261128000005_two_factor.js';
import * as membershipProvenance from './20261128000010_membership_provenance.js';
import * as attemptCounters from './20261128000011_attempt_counters.js';
import * as emailVerification from './20261128000012_email_verification.js';
import * as policyDocuments from './20261128000013_policy_documents.js';
import * as factors from './20261128000014_factors.js';
import * as auditRequestId from './20261128000020_audit_request_id.js';
import * as jobRuns from './20261128000030_job_runs.js';
import * as scaleIndexes from './20261128000031_scale_indexes.js';
import * as accountLocale from './20261128000040_account_locale.js';
import * as auditPerUser from './20261129000040_audit_per_user.js';
import * as platformAdmins from './20261129000050_platform_admins.js';
import * as accountSearch from './20261129000051_account_search.js';

/**
 * Migrations in order. Listed here (rather than discovered on disk) so they run the same from the
 * TypeScript sources under jest and from the compiled build.
 */
const migrations: Record<string, Knex.Migration> = {
  '20261128000001_foundation': foundation,
  '20261128000002_organizations': organizations,
  '20261128000003_passwords': passwords,
  '20261128000004_lockout': lockout,
  '20261128000005_two_factor': twoFactor,
  '20261128000010_membership_provenance': membershipProvenance,
  '20261128000011_attempt_counters': attemptCounters,
  '20261128000012_email_verification': emailVerification,
  '20261128000013_policy_documents': policyDocuments,
  '20261128000014_factors': factors,
  '20261128000020_audit_request_id': auditRequestId,
  '20261128000030_job_runs': jobRuns,
  '20261128000031_scale_indexes': scaleIndexes,
  '20261128000040_account_locale': accountLocale,
  '20261129000040_audit_per_user': auditPerUser,
  '20261129000050_platform_admins': platformAdmins,
  '20261129000051_account_search': accountSearch,
};

/** The names of every migration this build knows, in order (readiness compares the applied ones with these). */
export const migrationNames: readonly string[] = Object.keys(migrations);

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
