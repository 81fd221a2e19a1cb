import type { Locale } from '../i18n/index.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';
import { currentRequestId, REQUEST_ID } from '../observability/request-context.js';
import type { AuditEventInput, AuditStore } from '../stores/sql/audit.js';

export type Actor =
  | { type: 'client'; id: string }
  | { type: 'user'; id: string }
  | { type: 'system'; id: string }
  | { type: 'anonymous' };

/** Where a request came from, as recorded in the audit trail. */
export interface RequestInfo {
  ip: string | null;
  userAgent: string | null;
  /** The request's id (X-Request-Id); unset: the id of the request being served, if any. */
  requestId?: string | null;
  /** The language of the page the request came from: mails sent while serving it use it. Not audited. */
  locale?: Locale;
}

export const SYSTEM = (job: string): Actor => ({ type: 'system', id: job });

const SECRET_KEY = /password|secret|token|otp|recovery/i;

/** Control characters become visible \u escapes, so a log line or terminal shows them instead of obeying them. */
export function escapeControl(value: string): string {
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return escapeControl(value);
  if (Array.isArray(value)) return value.map(sanitize);
  if (value && typeof value === 'object') {
    // Secrets are strings; an object under such a key (the policy's "password" section) is kept.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [escapeControl(k), SECRET_KEY.test(k) && typeof v === 'string' ? '[redacted]' : sanitize(v)]),
    );
  }
  return value;
}

function requestIdOf(request: RequestInfo | undefined): string | null {
  const id = request?.requestId ?? currentRequestId();
  return id !== null && REQUEST_ID.test(id) ? id : null;
}

export interface AuditEntry {
  actor: Actor;
  organizationId?: string | null;
  target?: { type: string; id: string };
  request?: RequestInfo;
  data?: Record<string, unknown>;
}

/**
 * Appends to the audit trail: UTC timestamps, escaped text, and never a secret even if a caller passes one.
 * Every event recorded while a request is served carries that request's id. Recorded events also feed the
 * metrics (sign-in outcomes are counted from them).
 */
export class AuditService {
  constructor(
    private readonly store: AuditStore,
    private readonly metrics: Metrics = NO_METRICS,
  ) {}

  async record(type: string, e: AuditEntry): Promise<void> {
    const event: AuditEventInput = {
      type,
      actorType: e.actor.type,
      actorId: e.actor.type === 'anonymous' ? null : escapeControl(e.actor.id),
      organizationId: e.organizationId ?? null,
      targetType: e.target?.type ?? null,
      targetId: e.target ? escapeControl(e.target.id) : null,
      ip: e.request?.ip ? escapeControl(e.request.ip).slice(0, 64) : null,
      userAgent: e.request?.userAgent ? escapeControl(e.request.userAgent).slice(0, 512) : null,
      requestId: requestIdOf(e.request),
      data: e.data ? (sanitize(e.data) as Record<string, unknown>) : null,
    };
    await this.store.append(event, Date.now());
    this.metrics.audited(type, e.data);
  }

  list(...args: Parameters<AuditStore['list']>) {
    return this.store.list(...args);
  }

  /** A user's own events, newest first (the account center's recent activity). */
  listAboutUser(userId: string, limit: number) {
    return this.store.listAboutUser(userId, limit);
  }
}
