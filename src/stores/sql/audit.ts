import type { Knex } from 'knex';
import type { Db } from '../db.js';

export interface AuditEventInput {
  type: string;
  actorType: 'client' | 'user' | 'anonymous' | 'system';
  actorId: string | null;
  organizationId: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The id of the request during which the event was recorded (X-Request-Id); null outside a request. */
  requestId: string | null;
  data: Record<string, unknown> | null;
}

export interface AuditEvent extends AuditEventInput {
  id: string;
  at: string;
}

interface Row {
  id: number | string;
  at_ms: number;
  type: string;
  actor_type: AuditEventInput['actorType'];
  actor_id: string | null;
  organization_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  data: string | null;
}

const eventOf = (r: Row): AuditEvent => ({
  id: String(r.id),
  at: new Date(Number(r.at_ms)).toISOString(),
  type: r.type,
  actorType: r.actor_type,
  actorId: r.actor_id,
  organizationId: r.organization_id,
  targetType: r.target_type,
  targetId: r.target_id,
  ip: r.ip,
  userAgent: r.user_agent,
  requestId: r.request_id,
  data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : null,
});

/** The append-only audit trail: this store has no update or delete. */
export class AuditStore {
  constructor(private readonly db: Db) {}

  async append(e: AuditEventInput, atMs: number): Promise<void> {
    await this.db<Row>('audit_events').insert({
      at_ms: atMs,
      type: e.type,
      actor_type: e.actorType,
      actor_id: e.actorId,
      organization_id: e.organizationId,
      target_type: e.targetType,
      target_id: e.targetId,
      ip: e.ip,
      user_agent: e.userAgent,
      request_id: e.requestId,
      data: e.data ? JSON.stringify(e.data) : null,
    });
  }

  /**
   * Newest first; `beforeId` is the cursor. With both `sinceMs` and `untilMs`, the window's ids are read
   * first through the (organization_id, at_ms, id) or (at_ms, id) index and only the page's rows after:
   * walking the trail newest first and skipping everything newer than `untilMs` cost time in
   * proportion to the events since the window (seconds, months back in millions of events), which
   * PostgreSQL's planner cannot foresee (it assumes time and id uncorrelated). This way the cost follows
   * the events inside the window.
   */
  async list(filter: {
    /** Unset: the whole trail (platform administrators). */
    organizationId?: string;
    types?: string[];
    /** Only events this user caused (actor) or that were about them (target). */
    userId?: string;
    sinceMs?: number;
    untilMs?: number;
    beforeId?: number;
    limit: number;
  }): Promise<AuditEvent[]> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.organizationId !== undefined) q.where({ organization_id: filter.organizationId });
      if (filter.types?.length) q.whereIn('type', filter.types);
      if (filter.userId !== undefined) {
        const userId = filter.userId;
        q.where((w) => w.where({ actor_type: 'user', actor_id: userId }).orWhere({ target_type: 'user', target_id: userId }));
      }
      if (filter.sinceMs !== undefined) q.where('at_ms', '>=', filter.sinceMs);
      if (filter.untilMs !== undefined) q.where('at_ms', '<', filter.untilMs);
      if (filter.beforeId !== undefined) q.where('id', '<', filter.beforeId);
      return q;
    };
    const q =
      filter.sinceMs !== undefined && filter.untilMs !== undefined
        ? this.db
            .withMaterialized('audit_window', where(this.db('audit_events').select('id')))
            .select('*')
            .from('audit_events')
            .whereIn('id', this.db('audit_window').select('id').orderBy('id', 'desc').limit(filter.limit))
            .orderBy('id', 'desc')
        : where(this.db('audit_events').select('*')).orderBy('id', 'desc').limit(filter.limit);
    return ((await q) as Row[]).map(eventOf);
  }

  /**
   * A user's own events, newest first: those about the user (target), and those the user caused about
   * nobody (actor, no target) — never an event about another user, even one this user caused (an
   * administrator's actions). Two reads, each through its (type, id, id) index, merged.
   */
  async listAboutUser(userId: string, limit: number): Promise<AuditEvent[]> {
    const [about, by] = await Promise.all([
      this.db<Row>('audit_events').where({ target_type: 'user', target_id: userId }).orderBy('id', 'desc').limit(limit),
      this.db<Row>('audit_events').where({ actor_type: 'user', actor_id: userId }).whereNull('target_type').orderBy('id', 'desc').limit(limit),
    ]);
    return [...about, ...by]
      .sort((a, b) => Number(b.id) - Number(a.id))
      .slice(0, limit)
      .map(eventOf);
  }
}
