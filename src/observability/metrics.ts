import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * What Gatehouse counts, in one interface: the services, stores and HTTP layer call it, and it is either
 * Prometheus (`PrometheusMetrics`, when METRICS_PORT is set) or nothing at all (`NO_METRICS`), so that an
 * instance without a metrics listener pays for no counting. Every label value is drawn from a fixed set
 * or a route pattern: nothing a caller sends (a path, an id, a grant type it made up) becomes a label.
 */
export interface Metrics {
  /** False for NO_METRICS: callers skip the work of measuring (timers, hooks) altogether. */
  readonly enabled: boolean;
  /** An audit event was recorded (sign-in outcomes are counted from these). */
  audited(type: string, data: Record<string, unknown> | undefined): void;
  /** Attempt counters that reached the lockout threshold on a failed attempt. */
  lockouts(count: number): void;
  secondFactor(method: SecondFactorMethod, outcome: SecondFactorOutcome): void;
  /** A token endpoint request succeeded (oidc-provider's grant.success) or failed (grant.error). */
  grant(grantType: unknown, error?: unknown): void;
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  dbQuery(operation: string, seconds: number): void;
  dbError(operation: string): void;
  redisCommand(command: string, seconds: number, failed: boolean): void;
  argon2Started(): void;
  argon2Finished(operation: 'hash' | 'verify', seconds: number): void;
  backchannelLogout(outcome: 'delivered' | 'failed'): void;
  domainReverification(outcome: 'verified' | 'failed' | 'revoked'): void;
}

export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';
export type SecondFactorOutcome = 'ok' | 'invalid' | 'locked' | 'cloned';

const nothing = (): void => undefined;

/** Metrics switched off: every call does nothing. */
export const NO_METRICS: Metrics = {
  enabled: false,
  audited: nothing,
  lockouts: nothing,
  secondFactor: nothing,
  grant: nothing,
  httpRequest: nothing,
  dbQuery: nothing,
  dbError: nothing,
  redisCommand: nothing,
  argon2Started: nothing,
  argon2Finished: nothing,
  backchannelLogout: nothing,
  domainReverification: nothing,
};

/** Reasons a sign-in fails (SignInFailure in src/interaction/steps/step.ts); anything else counts as `other`. */
const SIGN_IN_REASONS = new Set(['invalid', 'locked', 'ip-not-allowed', 'invalid-second-factor', 'enrollment-superseded', 'passkey-refused', 'passkey-cloned']);
/** Grant types Gatehouse enables; a made-up one in a refused request counts as `other`. */
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);
const OAUTH_ERROR = /^[a-z_]{1,40}$/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
const statusClass = (status: number): string => STATUS_CLASSES[Math.floor(status / 100)] ?? '5xx';

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const ARGON2_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Observer = { observe(value: number): void };
type Incrementer = { inc(value?: number): void };

/**
 * Prometheus metrics in a registry of their own (several apps in one process, as in tests, do not mix).
 * Labelled children are looked up once and kept, so a request's observation allocates nothing new.
 */
export class PrometheusMetrics implements Metrics {
  readonly enabled = true;
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly signIns = new Counter({
    name: 'gatehouse_sign_ins_total',
    help: 'Sign-in outcomes (the sign_in.succeeded and sign_in.failed audit events); reason is "none" for a success',
    labelNames: ['outcome', 'reason'],
    registers: [this.registry],
  });
  private readonly lockoutCount = new Counter({
    name: 'gatehouse_lockouts_total',
    help: 'Failed attempts that locked an attempt counter (an account, or an address without one) for LOCKOUT_MINUTES',
    registers: [this.registry],
  });
  private readonly secondFactors = new Counter({
    name: 'gatehouse_second_factor_checks_total',
    help: 'Second-factor checks by method (totp, recovery_code, passkey) and outcome (ok, invalid, locked, cloned)',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Successful token endpoint requests, by grant type',
    labelNames: ['grant_type'],
    registers: [this.registry],
  });
  private readonly tokenErrors = new Counter({
    name: 'gatehouse_token_errors_total',
    help: 'Refused token endpoint requests, by grant type and OAuth error code',
    labelNames: ['grant_type', 'error'],
    registers: [this.registry],
  });
  private readonly http = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status class',
    labelNames: ['route', 'method', 'status_class'],
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly dbDuration = new Histogram({
    name: 'gatehouse_db_query_duration_seconds',
    help: 'SQL statements that completed, by operation (select, insert, update, delete, raw, other)',
    labelNames: ['operation'],
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });
  private readonly dbErrors = new Counter({
    name: 'gatehouse_db_errors_total',
    help: 'SQL statements that failed, by operation; "connect": no connection could be had from the pool',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  private readonly redisDuration = new Histogram({
    name: 'gatehouse_redis_command_duration_seconds',
    help: 'Redis commands that completed, by command',
    labelNames: ['command'],
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });
  private readonly redisErrors = new Counter({
    name: 'gatehouse_redis_command_errors_total',
    help: 'Redis commands that failed or were refused (Redis down, timed out), by command',
    labelNames: ['command'],
    registers: [this.registry],
  });
  private readonly argon2InFlight = new Gauge({
    name: 'gatehouse_argon2_in_flight',
    help: 'argon2 hashes and verifications under way; above the libuv thread pool size (UV_THREADPOOL_SIZE, 4 by default) they queue',
    registers: [this.registry],
  });
  private readonly argon2Duration = new Histogram({
    name: 'gatehouse_argon2_duration_seconds',
    help: 'argon2id hash and verify durations, queueing for a thread included',
    labelNames: ['operation'],
    buckets: ARGON2_BUCKETS,
    registers: [this.registry],
  });
  private readonly backchannel = new Counter({
    name: 'gatehouse_backchannel_logouts_total',
    help: 'Back-channel logout deliveries, by outcome (delivered, failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly reverifications = new Counter({
    name: 'gatehouse_domain_reverifications_total',
    help: 'Re-verifications of verified domains, by outcome (verified, failed, revoked: failed too often in a row)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  private readonly httpChildren = new Map<string, Map<string, Observer[]>>();
  private readonly dbChildren = new Map<string, Observer>();
  private readonly redisChildren = new Map<string, { duration: Observer; errors: Incrementer }>();

  constructor(options: { dependencyUp?: (dependency: 'database' | 'redis') => boolean | undefined } = {}) {
    collectDefaultMetrics({ register: this.registry });
    const { dependencyUp } = options;
    if (dependencyUp) {
      new Gauge({
        name: 'gatehouse_dependency_up',
        help: 'Whether a backing service answers, as this node sees it (1) or is in an outage (0); absent when not configured',
        labelNames: ['dependency'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const dependency of ['database', 'redis'] as const) {
            const up = dependencyUp(dependency);
            if (up !== undefined) this.set({ dependency }, up ? 1 : 0);
          }
        },
      });
    }
    // Outcomes known in advance start at zero, so a rate() over them exists before the first event.
    this.signIns.inc({ outcome: 'succeeded', reason: 'none' }, 0);
    for (const reason of ['invalid', 'locked']) this.signIns.inc({ outcome: 'failed', reason }, 0);
    this.lockoutCount.inc(0);
    for (const outcome of ['delivered', 'failed']) this.backchannel.inc({ outcome }, 0);
    for (const outcome of ['verified', 'failed', 'revoked']) this.reverifications.inc({ outcome }, 0);
  }

  /** The exposition: Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  audited(type: string, data: Record<string, unknown> | undefined): void {
    if (type === 'sign_in.succeeded') this.signIns.inc({ outcome: 'succeeded', reason: 'none' });
    else if (type === 'sign_in.failed') {
      const reason = typeof data?.reason === 'string' && SIGN_IN_REASONS.has(data.reason) ? data.reason : 'other';
      this.signIns.inc({ outcome: 'failed', reason });
    }
  }

  lockouts(count: number): void {
    this.lockoutCount.inc(count);
  }

  secondFactor(method: SecondFactorMethod, outcome: SecondFactorOutcome): void {
    this.secondFactors.inc({ method, outcome });
  }

  grant(grantType: unknown, error?: unknown): void {
    const grant_type = typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : 'other';
    if (error === undefined) {
      this.tokens.inc({ grant_type });
      return;
    }
    const code = (error as { error?: unknown } | null)?.error;
    this.tokenErrors.inc({ grant_type, error: typeof code === 'string' && OAUTH_ERROR.test(code) ? code : 'server_error' });
  }

  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const verb = METHODS.has(method) ? method : 'OTHER';
    let byMethod = this.httpChildren.get(route);
    if (!byMethod) this.httpChildren.set(route, (byMethod = new Map()));
    let byClass = byMethod.get(verb);
    if (!byClass) byMethod.set(verb, (byClass = []));
    const index = Math.min(Math.max(Math.floor(status / 100), 1), 5);
    (byClass[index] ??= this.http.labels(route, verb, statusClass(status))).observe(seconds);
  }

  dbQuery(operation: string, seconds: number): void {
    let child = this.dbChildren.get(operation);
    if (!child) this.dbChildren.set(operation, (child = this.dbDuration.labels(operation)));
    child.observe(seconds);
  }

  dbError(operation: string): void {
    this.dbErrors.inc({ operation });
  }

  redisCommand(command: string, seconds: number, failed: boolean): void {
    let child = this.redisChildren.get(command);
    if (!child) {
      child = { duration: this.redisDuration.labels(command), errors: this.redisErrors.labels(command) };
      this.redisChildren.set(command, child);
    }
    if (failed) child.errors.inc();
    else child.duration.observe(seconds);
  }

  argon2Started(): void {
    this.argon2InFlight.inc();
  }

  argon2Finished(operation: 'hash' | 'verify', seconds: number): void {
    this.argon2InFlight.dec();
    this.argon2Duration.observe({ operation }, seconds);
  }

  backchannelLogout(outcome: 'delivered' | 'failed'): void {
    this.backchannel.inc({ outcome });
  }

  domainReverification(outcome: 'verified' | 'failed' | 'revoked'): void {
    this.reverifications.inc({ outcome });
  }
}

/** knex's query method → the `operation` label. */
export function sqlOperation(method: unknown): string {
  switch (method) {
    case 'select':
    case 'first':
    case 'pluck':
      return 'select';
    case 'insert':
      return 'insert';
    case 'update':
    case 'increment':
    case 'decrement':
      return 'update';
    case 'del':
    case 'delete':
    case 'truncate':
      return 'delete';
    case 'raw':
      return 'raw';
    default:
      return 'other';
  }
}
