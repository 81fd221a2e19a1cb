/**
 * Every Gatehouse setting, its environment variable, its default and its range: declared once here.
 * The README's settings table follows this file; `loadConfig` is the only reader of `process.env`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ipEntryProblem } from '../policy/ip.js';
import { parseRedisUrl } from './redis-url.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

// Canonical forms only, as in the policy's whitelist: an entry that does not parse would otherwise never match.
const cidr = z.string().superRefine((value, ctx) => {
  const problem = ipEntryProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${value} ${problem}` });
});

/**
 * An entry of BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: an address or CIDR block in canonical form (so no octal
 * or integer IPv4 surprises), never a /0 (that would switch the guard off), or a DNS host name.
 */
const backchannelDestination = z.string().refine((value) => {
  if (/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(value) && /[a-z]/i.test(value.split('.').pop()!)) {
    return value.length <= 253;
  }
  return ipEntryProblem(value) === null && !value.endsWith('/0');
}, 'each must be a canonical IP address, a CIDR block (not /0) or a host name');

/** A DNS host name: dot-separated labels of letters, digits and inner dashes, ending in a non-numeric label. */
const hostName = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A web origin as browsers report it in clientDataJSON (scheme, host and port; a default port dropped,
 * the host in lower case), so that it compares equal to theirs.
 */
const webOrigin = z.string().transform((value, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.pathname !== '/' || url.search || url.hash || /[?#]$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: `${value} is not an origin: each must be http(s)://host[:port], without path, query or credentials` });
    return z.NEVER;
  }
  return url.origin;
});

/** Environment variable → setting. Keys are the variable names, so errors name the variable. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** TCP port of the HTTP listener. */
  PORT: int(0, 65535).default(3000),
  /** Interface to bind. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** The OpenID issuer identifier; defaults to http://localhost:<PORT>. */
  ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** `sqlite:<path>` (embedded default) or `postgres://…`. */
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<path> or postgres://…')
    .default('sqlite:data/gatehouse.db'),
  /** PostgreSQL schema holding Gatehouse's tables (created if missing). */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier').default('public'),
  /**
   * PostgreSQL: how long opening a connection, or waiting for a free one from the pool, may take, in
   * milliseconds. Past it (or at once when the server refuses or drops connections) the request fails
   * closed with 503 and Retry-After, and Gatehouse keeps checking in the background until the database answers again.
   */
  DATABASE_TIMEOUT_MS: int(100, 60000).default(2000),
  /**
   * Redis for tokens, sessions and cross-node signals; unset keeps them in the SQL database. One server
   * (`redis://…`, `rediss://…`), a Sentinel set (`redis+sentinel://host:port,…/masterName`) or a Cluster
   * (`redis+cluster://host:port,…`): see src/config/redis-url.ts.
   */
  REDIS_URL: z
    .string()
    .superRefine((value, ctx) => {
      try {
        parseRedisUrl(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .optional(),
  /**
   * How long a Redis command or connection attempt may take, in milliseconds. Past it (or at once while
   * Redis is unreachable) the request fails closed with 503 and Retry-After; the client keeps reconnecting.
   */
  REDIS_TIMEOUT_MS: int(50, 60000).default(1000),
  /** Prefix of every Redis key Gatehouse writes. */
  REDIS_KEY_PREFIX: z.string().default('gatehouse:'),
  /** Comma-separated secrets that sign cookies, newest first. Generated and kept in the database in development. */
  COOKIE_KEYS: list.pipe(z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1)).optional(),
  /** Key (32+ characters) that encrypts stored second-factor secrets. Generated and kept in the database in development. */
  DATA_ENCRYPTION_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** argon2id memory cost in KiB (OWASP: 19456). */
  ARGON2_MEMORY_KIB: int(8192, 4 * 1024 * 1024).default(19456),
  /** argon2id iterations (OWASP: 2). */
  ARGON2_TIME_COST: int(1, 20).default(2),
  /** argon2id lanes (OWASP: 1). */
  ARGON2_PARALLELISM: int(1, 16).default(1),
  /** Comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  TRUSTED_PROXIES: list.pipe(z.array(cidr)).default([]),
  /**
   * Destinations of back-channel logout that may be special-use addresses (loopback, private networks…), which
   * are otherwise refused: comma-separated addresses, CIDR blocks and exact host names.
   */
  BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: list.pipe(z.array(backchannelDestination)).default([]),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Lifetime of access tokens, in seconds. */
  ACCESS_TOKEN_TTL_SECONDS: int(60, 86400).default(900),
  /** Lifetime of ID tokens, in seconds. */
  ID_TOKEN_TTL_SECONDS: int(60, 86400).default(3600),
  /** How long a started sign-in may take, in seconds. */
  INTERACTION_TTL_SECONDS: int(60, 86400).default(1800),
  /** Platform ceiling on any refresh token's absolute lifetime, in hours. */
  REFRESH_TOKEN_MAX_HOURS: int(1, 87600).default(8760),
  /** Resource servers that receive JWT access tokens: JSON object { "<resource URI>": { "scopes": ["…"] } }. */
  RESOURCE_SERVERS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.url(), z.object({ scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default([]) })))
    .default({}),
  /** DNS servers for domain verification, comma-separated host:port; unset: the system's resolvers. */
  DNS_SERVERS: list
    .pipe(z.array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]+)(:\d{1,5})?$/, 'each must be an IP address with an optional :port')))
    .optional(),
  /** How long one DNS verification query may take, in milliseconds. */
  DNS_TIMEOUT_MS: int(100, 60000).default(5000),
  /** Seconds between re-verifications of each verified domain. */
  DOMAIN_REVERIFY_INTERVAL_SECONDS: int(60, 30 * 86400).default(86400),
  /** Consecutive failed re-verifications that revoke a domain claim. */
  DOMAIN_REVERIFY_MAX_FAILURES: int(1, 100).default(3),
  /** The platform-admin machine client, created or updated at start (client credentials, scope admin). */
  GATEHOUSE_BOOTSTRAP_CLIENT_ID: z.string().regex(/^[\w.-]{3,64}$/, 'must be 3-64 letters, digits, dots, dashes or underscores').optional(),
  GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How long an account stays locked after 5 consecutive failed sign-ins, in minutes. */
  LOCKOUT_MINUTES: int(1, 1440).default(15),
  /** SMTP server for outgoing mail (smtp://user:pass@host:port, smtps://…); unset: the development outbox. */
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be smtp://… or smtps://…').optional(),
  /** Sender of Gatehouse's emails. */
  MAIL_FROM: z.string().min(3).default('Gatehouse <no-reply@gatehouse.localhost>'),
  /** Lifetime of a forgot-password link, in minutes. */
  PASSWORD_RESET_TTL_MINUTES: int(5, 1440).default(30),
  /** Lifetime of an invitation link (a user created without a password chooses one through it), in hours. */
  INVITATION_TTL_HOURS: int(1, 720).default(72),
  /**
   * Language of pages and mails when neither the person's choice on a page, the app's ui_locales nor the
   * browser's Accept-Language names one Gatehouse has (en, vi).
   */
  DEFAULT_LOCALE: z.enum(['en', 'vi']).default('en'),
  /** Days before a password expires that the user is warned (at sign-in and by email). */
  PASSWORD_EXPIRY_WARNING_DAYS: int(0, 90).default(14),
  /** Forgot-password requests allowed per email address, and per client address, per hour. */
  PASSWORD_RESET_LIMIT_PER_HOUR: int(1, 1000).default(5),
  /**
   * WebAuthn relying party ID: the domain passkeys are bound to, the host of each of WEBAUTHN_ORIGINS or
   * a parent domain of it. Default: the host name of ISSUER. Changing it later orphans every passkey.
   */
  WEBAUTHN_RP_ID: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(
      z
        .string()
        .regex(hostName, 'must be a domain name (no scheme, port or path; not an IP address)')
        .refine((id) => id.includes('.') || id === 'localhost', 'must be a registrable domain or localhost, not a single label such as "com"'),
    )
    .optional(),
  /** Comma-separated origins (scheme://host[:port]) whose pages may use passkeys. Default: the origin of ISSUER. */
  WEBAUTHN_ORIGINS: list.pipe(z.array(webOrigin).min(1)).optional(),
  /** The name authenticators show next to a passkey. */
  WEBAUTHN_RP_NAME: z.string().trim().min(1).max(64).default('Gatehouse'),
  /**
   * On SIGTERM or SIGINT: how long requests already being served may take to finish, in seconds, once
   * the listener has stopped accepting connections. Whatever is still open after it is closed, then
   * the process exits.
   */
  SHUTDOWN_GRACE_SECONDS: int(0, 600).default(10),
  /** Seconds between sweeps of expired rows from the SQL token store (once per interval across all nodes). */
  SWEEP_INTERVAL_SECONDS: int(10, 86400).default(300),
  /** Seconds between runs of the password-expiry warning job, which emails users due a warning (once per interval across all nodes). */
  PASSWORD_EXPIRY_WARNING_INTERVAL_SECONDS: int(1, 86400).default(3600),
  /**
   * Seconds between each node's re-reads of the signing keys: a rotation made elsewhere (another node,
   * the CLI) is signed with and published by this node within this time, without a restart.
   */
  KEYS_REFRESH_SECONDS: int(1, 3600).default(60),
  /**
   * TCP port of the separate listener that serves GET /metrics (Prometheus text format); unset: no
   * metrics listener and no metrics collected. 0 picks a free port (tests).
   */
  METRICS_PORT: int(0, 65535).optional(),
  /** Interface the metrics listener binds: an IP address or `localhost`. Loopback by default: the metrics are not for the public. */
  METRICS_HOST: z
    .string()
    .refine((value) => value === 'localhost' || isIP(value) !== 0, 'must be an IP address (such as 127.0.0.1, 0.0.0.0 or ::) or localhost')
    .default('127.0.0.1'),
});

export type Env = z.infer<typeof envSchema>;
