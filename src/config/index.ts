import { envSchema, type Env } from './schema.js';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';

export { envSchema } from './schema.js';

export interface AppConfig {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  issuer: string;
  database: { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string; schema: string; timeoutMs: number };
  /** `url` as given; `target` is what it names (one server, a Sentinel set or a Cluster). */
  redis?: { url: string; target: RedisTarget; prefix: string; timeoutMs: number };
  cookieKeys?: string[];
  dataEncryptionKey?: string;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  trustedProxies: string[];
  /** Special-use destinations (addresses, CIDR blocks, host names) that back-channel logout may reach. */
  backchannelLogoutAllowed: string[];
  logLevel: Env['LOG_LEVEL'];
  lifetimes: {
    accessTokenSeconds: number;
    idTokenSeconds: number;
    interactionSeconds: number;
    /** Ceiling on any session's absolute lifetime, whatever a policy says (a disabled expiry means this). */
    refreshTokenMaxHours: number;
  };
  resourceServers: Record<string, { scopes: string[] }>;
  sweepIntervalSeconds: number;
  /** How often each node re-reads the signing keys (a rotation elsewhere reaches it within this). */
  keysRefreshSeconds: number;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish. */
  shutdownGraceSeconds: number;
  dns: { servers?: string[]; timeoutMs: number; reverifyIntervalSeconds: number; reverifyMaxFailures: number };
  bootstrapClient?: { clientId: string; clientSecret: string };
  mail: { smtpUrl?: string; from: string };
  passwords: { resetTtlMinutes: number; expiryWarningDays: number; expiryWarningIntervalSeconds: number; resetLimitPerHour: number; invitationTtlHours: number };
  lockoutMinutes: number;
  /** Language of pages and mails when nothing else names one (see src/i18n). */
  defaultLocale: 'en' | 'vi';
  /** Passkeys: the relying party ID, its display name and the origins whose pages may use them. */
  webauthn: { rpId: string; rpName: string; origins: string[] };
  /** The separate /metrics listener; unset: none, and nothing is collected. */
  metrics?: { port: number; host: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * WebAuthn's rule: the RP ID is the origin's host or a parent domain of it. (An IP address RP ID, kept
 * from an IP issuer, covers only itself: no valid host ends in ".<address>".)
 */
function rpIdCovers(rpId: string, origin: string): boolean {
  const host = new URL(origin).hostname;
  return host === rpId || host.endsWith(`.${rpId}`);
}

/** Reads settings from an environment (default: process.env). Throws ConfigError naming each bad variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  const relevant = Object.fromEntries(
    Object.keys(envSchema.shape).map((key) => [key, source[key] === '' ? undefined : source[key]]),
  );
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`));
  }
  const e = parsed.data;
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');

  const problems: string[] = [];
  if (e.NODE_ENV === 'production') {
    const url = new URL(issuer);
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      problems.push('ISSUER: must be https:// in production (http is allowed only on loopback)');
    }
    if (!e.COOKIE_KEYS) problems.push('COOKIE_KEYS: required in production (generated development keys are refused)');
    if (!e.DATA_ENCRYPTION_KEY) problems.push('DATA_ENCRYPTION_KEY: required in production (a generated development key is refused)');
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    problems.push(`METRICS_PORT: must differ from PORT (${e.PORT}): the metrics listener is a separate one`);
  }
  if (!!e.GATEHOUSE_BOOTSTRAP_CLIENT_ID !== !!e.GATEHOUSE_BOOTSTRAP_CLIENT_SECRET) {
    problems.push('GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: set both GATEHOUSE_BOOTSTRAP_CLIENT_ID and GATEHOUSE_BOOTSTRAP_CLIENT_SECRET, or neither');
  }
  const webauthn = {
    rpId: e.WEBAUTHN_RP_ID ?? new URL(issuer).hostname,
    rpName: e.WEBAUTHN_RP_NAME,
    origins: e.WEBAUTHN_ORIGINS ?? [new URL(issuer).origin],
  };
  const uncovered = webauthn.origins.filter((origin) => !rpIdCovers(webauthn.rpId, origin));
  if (uncovered.length) {
    // Blame the variable that was set: a default RP ID comes from ISSUER, default origins from ISSUER too.
    const variable = e.WEBAUTHN_RP_ID ? 'WEBAUTHN_RP_ID' : 'WEBAUTHN_ORIGINS';
    problems.push(
      `${variable}: the relying party ID "${webauthn.rpId}" must be the host of each passkey origin or a parent domain of it; ` +
        `it is not for ${uncovered.join(', ')}${e.WEBAUTHN_ORIGINS ? '' : ' (the origin of ISSUER)'}`,
    );
  }
  if (problems.length) throw new ConfigError(problems);

  const database: AppConfig['database'] = e.DATABASE_URL.startsWith('sqlite:')
    ? { kind: 'sqlite', filename: e.DATABASE_URL.slice('sqlite:'.length) }
    : { kind: 'postgres', url: e.DATABASE_URL, schema: e.DATABASE_SCHEMA, timeoutMs: e.DATABASE_TIMEOUT_MS };

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    issuer,
    database,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, target: parseRedisUrl(e.REDIS_URL), prefix: e.REDIS_KEY_PREFIX, timeoutMs: e.REDIS_TIMEOUT_MS } : undefined,
    cookieKeys: e.COOKIE_KEYS,
    dataEncryptionKey: e.DATA_ENCRYPTION_KEY,
    argon2: { memoryCost: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_TIME_COST, parallelism: e.ARGON2_PARALLELISM },
    trustedProxies: e.TRUSTED_PROXIES,
    backchannelLogoutAllowed: e.BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS,
    logLevel: e.LOG_LEVEL,
    lifetimes: {
      accessTokenSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
      idTokenSeconds: e.ID_TOKEN_TTL_SECONDS,
      interactionSeconds: e.INTERACTION_TTL_SECONDS,
      refreshTokenMaxHours: e.REFRESH_TOKEN_MAX_HOURS,
    },
    resourceServers: e.RESOURCE_SERVERS,
    sweepIntervalSeconds: e.SWEEP_INTERVAL_SECONDS,
    keysRefreshSeconds: e.KEYS_REFRESH_SECONDS,
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
    dns: {
      servers: e.DNS_SERVERS,
      timeoutMs: e.DNS_TIMEOUT_MS,
      reverifyIntervalSeconds: e.DOMAIN_REVERIFY_INTERVAL_SECONDS,
      reverifyMaxFailures: e.DOMAIN_REVERIFY_MAX_FAILURES,
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    lockoutMinutes: e.LOCKOUT_MINUTES,
    defaultLocale: e.DEFAULT_LOCALE,
    webauthn,
    metrics: e.METRICS_PORT === undefined ? undefined : { port: e.METRICS_PORT, host: e.METRICS_HOST },
    passwords: {
      resetTtlMinutes: e.PASSWORD_RESET_TTL_MINUTES,
      expiryWarningDays: e.PASSWORD_EXPIRY_WARNING_DAYS,
      expiryWarningIntervalSeconds: e.PASSWORD_EXPIRY_WARNING_INTERVAL_SECONDS,
      resetLimitPerHour: e.PASSWORD_RESET_LIMIT_PER_HOUR,
      invitationTtlHours: e.INVITATION_TTL_HOURS,
    },
    bootstrapClient:
      e.GATEHOUSE_BOOTSTRAP_CLIENT_ID && e.GATEHOUSE_BOOTSTRAP_CLIENT_SECRET
        ? { clientId: e.GATEHOUSE_BOOTSTRAP_CLIENT_ID, clientSecret: e.GATEHOUSE_BOOTSTRAP_CLIENT_SECRET }
        : undefined,
  };
}
