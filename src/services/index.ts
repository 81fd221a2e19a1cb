import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../stores/redis/connection.js';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/index.js';
import { migrate, nowSeconds, openDb, type Db } from '../stores/db.js';
import type { OidcStore } from '../stores/oidc-store.js';
import { RedisOidcStore } from '../stores/redis/oidc-store.js';
import { openRedis } from '../stores/redis/connection.js';
import { DependencyMonitor } from './dependencies.js';
import { AccountStore } from '../stores/sql/accounts.js';
import { AuditStore } from '../stores/sql/audit.js';
import { ClientStore } from '../stores/sql/clients.js';
import { DomainClaimStore } from '../stores/sql/domain-claims.js';
import { InstanceSecretStore } from '../stores/sql/instance-secrets.js';
import { SqlOidcStore } from '../stores/sql/oidc-store.js';
import { OrganizationStore } from '../stores/sql/organizations.js';
import { MembershipStore } from '../stores/sql/memberships.js';
import { AuthorizationService } from './authorization.js';
import { PolicyStore } from '../stores/sql/policies.js';
import { SigningKeyStore } from '../stores/sql/signing-keys.js';
import { AccountService } from './accounts.js';
import { AuditService } from './audit.js';
import { ClientService } from './clients.js';
import { DnsTxtResolver } from './dns.js';
import { DomainService } from './domains.js';
import { KeyService } from './keys.js';
import { BackgroundJobs } from './jobs.js';
import { SqlJobLeaseStore } from '../stores/sql/job-leases.js';
import { OrganizationService } from './organizations.js';
import { PasswordHasher } from './passwords.js';
import { PolicyService } from './policies.js';
import { MailService } from './mail.js';
import { PasswordChangeService } from './password-changes.js';
import { PasswordExpiryWarnings } from './password-expiry.js';
import { PasswordResetService } from './password-resets.js';
import { InvitationService } from './invitations.js';
import { Throttle } from './rate-limit.js';
import { SessionService } from './sessions.js';
import { SecretBox } from './secret-box.js';
import { TwoFactorService } from './two-factor.js';
import { PasskeyService } from './passkeys.js';
import { RecoveryCodeStore } from '../stores/sql/recovery-codes.js';
import { OutboxStore } from '../stores/sql/outbox.js';
import { PasswordHistoryStore } from '../stores/sql/password-history.js';
import { AttemptCounterStore } from '../stores/sql/attempt-counters.js';
import { ResetTokenStore } from '../stores/sql/reset-tokens.js';
import { SqlFactorStore } from '../stores/sql/factors.js';
import type { FactorStore } from '../stores/factors.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';
import { instrumentDb, instrumentRedis } from '../observability/instrument.js';

/** Stores and services over one database (and Redis when configured): shared by the server and the CLI. */
export interface Services {
  db: Db;
  redis?: RedisClient;
  /** Which backing services are down right now; logs each outage once (see dependencies.ts). */
  dependencies: DependencyMonitor;
  oidcStore: OidcStore;
  clientStore: ClientStore;
  accounts: AccountService;
  clients: ClientService;
  keys: KeyService;
  secrets: InstanceSecretStore;
  audit: AuditService;
  organizations: OrganizationService;
  /** Who may administer whom: every admin route asks it (policy/authorization.ts decides). */
  authorization: AuthorizationService;
  domains: DomainService;
  policies: PolicyService;
  sessions: SessionService;
  mail: MailService;
  outbox: OutboxStore;
  resetTokens: ResetTokenStore;
  passwordChanges: PasswordChangeService;
  passwordResets: PasswordResetService;
  invitations: InvitationService;
  expiryWarnings: PasswordExpiryWarnings;
  /** Background jobs, each run once per interval across all nodes (the server registers them: app.ts). */
  jobs: BackgroundJobs;
  twoFactor: TwoFactorService;
  passkeys: PasskeyService;
  /** Second factors (TOTP and passkeys) of every account; TwoFactorService and the passkey service use it. */
  factorStore: FactorStore;
  /** Where counts and timings go: Prometheus when METRICS_PORT is set, else nowhere (NO_METRICS). */
  metrics: Metrics;
  close(): Promise<void>;
}

export async function openServices(config: AppConfig, options: { migrate?: boolean; logger?: Logger; metrics?: Metrics } = {}): Promise<Services> {
  const db = openDb(config.database);
  instrumentDb(db, options.metrics ?? NO_METRICS);
  try {
    if (options.migrate !== false) await migrate(db, config.database);
    return await wire(db, config, options);
  } catch (err) {
    // A half-opened set of services must not keep the process alive.
    await db.destroy();
    throw err;
  }
}

async function wire(db: Db, config: AppConfig, options: { logger?: Logger; metrics?: Metrics }): Promise<Services> {
  const metrics = options.metrics ?? NO_METRICS;
  const secrets = new InstanceSecretStore(db);
  // Outside production a generated key kept in the database; production refuses to start without one.
  const dataKey = config.dataEncryptionKey ?? (await secrets.getOrCreate('data_key', () => randomBytes(32).toString('base64url'), nowSeconds()));
  const dependencies = new DependencyMonitor(options.logger);
  dependencies.probe('database', () => db.raw('select 1'));
  const redis = config.redis ? await openRedis(config.redis, dependencies) : undefined;
  if (redis) instrumentRedis(redis, metrics);
  const oidcStore: OidcStore = redis ? new RedisOidcStore(redis, config.redis!.prefix) : new SqlOidcStore(db);
  const clientStore = new ClientStore(db);
  const accountStore = new AccountStore(db);
  const factorStore = new SqlFactorStore(db);
  const claimStore = new DomainClaimStore(db);
  const memberships = new MembershipStore(db);
  const hasher = new PasswordHasher(config.argon2, metrics);
  const audit = new AuditService(new AuditStore(db), metrics);
  const lt = config.lifetimes;
  // A retired key must outlive every token it signed; a day of margin covers clock skew and caches.
  const retireAfter = Math.max(lt.accessTokenSeconds, lt.idTokenSeconds) + 86400;
  const domains = new DomainService(
    claimStore,
    new DnsTxtResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeoutMs }),
    audit,
    { reverifyIntervalSeconds: config.dns.reverifyIntervalSeconds, reverifyMaxFailures: config.dns.reverifyMaxFailures },
    options.logger,
    metrics,
  );
  const policies = new PolicyService(new PolicyStore(db), claimStore, accountStore, audit, factorStore, options.logger);
  const history = new PasswordHistoryStore(db);
  const resetTokens = new ResetTokenStore(db);
  const outbox = new OutboxStore(db);
  const mail = new MailService({ ...config.mail, defaultLocale: config.defaultLocale }, outbox, options.logger);
  const sessions = new SessionService(oidcStore);
  const accounts = new AccountService(
    accountStore,
    hasher,
    policies,
    history,
    { seconds: config.lockoutMinutes * 60, unknownAddresses: new AttemptCounterStore(db) },
    factorStore,
    metrics,
  );
  const passwordChanges = new PasswordChangeService({ accounts: accountStore, history, resetTokens, hasher, policies, sessions, mail, audit, currentPasswords: accounts });
  const hourly = config.passwords.resetLimitPerHour;
  const prefix = config.redis?.prefix;
  const passwordResets = new PasswordResetService({
    accounts: accountStore,
    tokens: resetTokens,
    changes: passwordChanges,
    policies,
    mail,
    audit,
    perEmail: new Throttle('reset-email', hourly, 3600, redis, prefix),
    perAddress: new Throttle('reset-ip', hourly * 4, 3600, redis, prefix),
    issuer: config.issuer,
    ttlMinutes: config.passwords.resetTtlMinutes,
  });
  const expiryWarnings = new PasswordExpiryWarnings({
    accounts: accountStore,
    policies,
    mail,
    warningDays: config.passwords.expiryWarningDays,
    logger: options.logger,
  });
  const jobs = new BackgroundJobs(new SqlJobLeaseStore(db), options.logger);
  const invitations = new InvitationService({
    accountService: accounts,
    accounts: accountStore,
    tokens: resetTokens,
    changes: passwordChanges,
    policies,
    mail,
    audit,
    issuer: config.issuer,
    ttlHours: config.passwords.invitationTtlHours,
  });
  const twoFactor = new TwoFactorService({
    factors: factorStore,
    accountService: accounts,
    recoveryCodes: new RecoveryCodeStore(db),
    policies,
    box: new SecretBox(dataKey),
    audit,
    mail,
    issuerName: `Gatehouse (${new URL(config.issuer).host})`,
    metrics,
  });
  return {
    db,
    redis,
    dependencies,
    oidcStore,
    clientStore,
    accounts,
    twoFactor,
    passkeys: new PasskeyService({ factors: factorStore, store: oidcStore, policies, audit, mail, webauthn: config.webauthn, metrics }),
    factorStore,
    clients: new ClientService(clientStore),
    keys: new KeyService(new SigningKeyStore(db), retireAfter),
    secrets,
    audit,
    organizations: new OrganizationService(new OrganizationStore(db), accountStore, audit, memberships, policies),
    authorization: new AuthorizationService(memberships, claimStore),
    domains,
    policies,
    sessions,
    mail,
    outbox,
    resetTokens,
    passwordChanges,
    passwordResets,
    invitations,
    expiryWarnings,
    jobs,
    metrics,
    async close() {
      jobs.stop();
      mail.close();
      dependencies.stop();
      await oidcStore.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.destroy();
    },
  };
}

/** Cookie signing keys: configured ones, or (outside production) a generated key kept in the database. */
export async function cookieKeys(config: AppConfig, services: Services): Promise<string[]> {
  if (config.cookieKeys) return config.cookieKeys;
  const generated = await services.secrets.getOrCreate('cookie_key', () => randomBytes(32).toString('base64url'), nowSeconds());
  return [generated];
}

/**
 * Start-up refuses while any stored security policy cannot be read, naming each organization: running
 * on would refuse every sign-in it governs (and a fallback to the defaults would switch off its 2FA
 * enforcement and IP whitelist).
 */
export async function assertPoliciesReadable(services: Services): Promise<void> {
  const unreadable = await services.policies.unreadable();
  if (!unreadable.length) return;
  const lines = await Promise.all(
    unreadable.map(async ({ subject, reason }) => {
      if (subject === 'baseline') return `- the baseline policy: ${reason}`;
      const name = await services.organizations.get(subject).then((o) => o.name, () => '(no such organization)');
      return `- organization "${name}" (id ${subject}): ${reason}`;
    }),
  );
  throw new Error(
    [
      'Gatehouse will not start: stored security policies cannot be read, and the sign-ins they govern must not fall back to the defaults.',
      ...lines,
      'Replace each one through the admin API of a node still running (PUT /admin/v1/organizations/<id>/security-policy, or PUT /admin/v1/baseline-policy),',
      'or correct its row in the security_policies table (subject = the organization id, or "baseline").',
    ].join('\n'),
  );
}
