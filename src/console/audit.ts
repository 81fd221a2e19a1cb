import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { textFor } from '../i18n/index.js';
import { m, type Text } from '../i18n/message.js';
import type { AuditEvent } from '../stores/sql/audit.js';
import type { Services } from '../services/index.js';
import { EVENT_WORDS, eventWords } from './audit-words.js';
import { csvRow } from './csv.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { asIs, describeChanges, type Change } from './policy-diff.js';
import { eachPage, queryField } from './shared.js';

const PAGE_SIZE = 50;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The filters of the audit page, as they stand in its URL. */
interface Filters {
  type: string;
  user: string;
  from: string;
  to: string;
}

function filtersOf(ctx: Context): Filters {
  const q = (name: string) => queryField(ctx, name);
  const type = q('type');
  const from = q('from');
  const to = q('to');
  return { type: type in EVENT_WORDS ? type : '', user: q('user').slice(0, 320), from: DATE.test(from) ? from : '', to: DATE.test(to) ? to : '' };
}

/** The filters as a query string (the links to older events and to the exports keep them). */
const searchOf = (f: Filters, extra: Record<string, string> = {}) =>
  new URLSearchParams(Object.entries({ ...f, ...extra }).filter(([, v]) => v !== '')).toString();

/** A day as the start of that day in UTC; `to` is inclusive, so the window ends at the start of the next day. */
const dayStart = (day: string, plusDays = 0) => new Date(Date.parse(`${day}T00:00:00Z`) + plusDays * 86_400_000).toISOString();

/**
 * The admin route's query for the filters; undefined when the user filter names nobody (no event can match).
 * An email is looked up among the accounts (an organization's trail may name administrators it does not reach).
 */
async function routeQuery(services: Services, f: Filters): Promise<Record<string, unknown> | undefined> {
  let user: string | undefined;
  if (f.user.includes('@')) {
    user = (await services.accounts.list({ email: f.user.toLowerCase(), limit: 1 })).items[0]?.id;
    if (!user) return undefined;
  } else if (f.user) {
    user = f.user;
  }
  return {
    ...(f.type ? { type: f.type } : {}),
    ...(user ? { user } : {}),
    ...(f.from ? { since: dayStart(f.from) } : {}),
    ...(f.to ? { until: dayStart(f.to, 1) } : {}),
  };
}

/** One event in plain words: when, who, what, on whom, from which address, and what changed. */
export interface EventLine {
  event: AuditEvent;
  who: Text;
  what: Text;
  whom: Text | null;
  changes: Change[];
}

const TARGET_WORDS: Record<string, Text> = { security_policy: m('the security policy'), organization: m('the organization') };

/** Describes events, reading each named user's email once. */
async function describe(services: Services, events: AuditEvent[], emails = new Map<string, string | null>()): Promise<EventLine[]> {
  const emailOf = async (id: string) => {
    if (!emails.has(id)) emails.set(id, (await services.accounts.findById(id))?.email ?? null);
    return emails.get(id) ?? id;
  };
  const lines: EventLine[] = [];
  for (const e of events) {
    let who: Text;
    if (e.actorType === 'user' && e.actorId) who = asIs(await emailOf(e.actorId));
    else if (e.actorType === 'system') who = m('Gatehouse');
    else if (e.actorType === 'client') who = m('Client {{id}}', { id: e.actorId ?? '' });
    else who = m('Someone not signed in');
    let whom: Text | null = null;
    if (e.targetType === 'user' && e.targetId) whom = asIs(await emailOf(e.targetId));
    else if (e.targetType) whom = TARGET_WORDS[e.targetType] ?? asIs(e.targetId ?? e.targetType);
    const data = e.data ?? {};
    const changes = 'before' in data || 'after' in data ? describeChanges(data.before, data.after) : [];
    lines.push({ event: e, who, what: eventWords(e.type), whom, changes });
  }
  return lines;
}

/** The Audit trail page: filters in the URL (a GET form), newest first in pages, and the exports of every matching event. */
export function auditPages(router: Router, deps: ConsolePageDeps): void {
  const { services } = deps;

  /**
   * Whose trail a request reads: the organization in the path, or (no organization) the whole platform's.
   * `check` reads through the route that decides who may see it, before anything else is read: with a
   * user filter naming nobody no event route would be called to refuse.
   */
  function scopeOf(ctx: Context, user: ConsoleUser) {
    const orgId = ctx.params.orgId as string | undefined;
    const read = (query: Record<string, unknown>) =>
      (orgId
        ? deps.callRoute(ctx, user, 'get', '/organizations/{orgId}/events', { orgId }, undefined, query)
        : deps.callRoute(ctx, user, 'get', '/events', {}, undefined, query)) as Promise<{ items: AuditEvent[]; nextCursor: string | null }>;
    return {
      orgId,
      base: orgId ? `/console/orgs/${encodeURIComponent(orgId)}/audit` : '/console/platform/audit',
      read,
      check: () => (orgId ? deps.callRoute(ctx, user, 'get', '/organizations/{orgId}', { orgId }) : read({ limit: 1 })),
    };
  }

  async function show(ctx: Context) {
    const user = await deps.requireAdmin(ctx);
    if (!user) return;
    const scope = scopeOf(ctx, user);
    const f = filtersOf(ctx);
    const cursor = typeof ctx.query.cursor === 'string' && /^\d{1,15}$/.test(ctx.query.cursor) ? ctx.query.cursor : undefined;
    try {
      await scope.check();
      const query = await routeQuery(services, f);
      const page = query ? await scope.read({ ...query, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }) : { items: [], nextCursor: null };
      const here = scope.base;
      // On the platform's trail, each event says which organization's it is.
      const orgNames: Record<string, string> = {};
      if (!scope.orgId) {
        for (const id of new Set(page.items.map((e) => e.organizationId).filter((id): id is string => id !== null))) {
          orgNames[id] = (await services.organizations.get(id).catch(() => null))?.name ?? id;
        }
      }
      await deps.page(ctx, user, 'console/audit', {
        current: scope.orgId ? 'audit' : null,
        platformTrail: scope.orgId ? null : here,
        orgNames,
        base: here,
        filters: f,
        types: Object.entries(EVENT_WORDS).map(([value, words]) => ({ value, words })),
        lines: await describe(services, page.items),
        older: page.nextCursor ? `${here}?${searchOf(f, { cursor: page.nextCursor })}` : null,
        newest: cursor ? `${here}?${searchOf(f)}` : null,
        exportCsv: `${here}/export.csv?${searchOf(f)}`,
        exportJsonl: `${here}/export.jsonl?${searchOf(f)}`,
        unknownUser: query === undefined,
      });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  }

  /**
   * Every matching event, streamed page by page through the route. The first page is read before the
   * answer starts, so a refusal is still a refusal page and not a broken download.
   */
  async function exportTrail(ctx: Context, kind: 'csv' | 'jsonl') {
    const user = await deps.requireAdmin(ctx);
    if (!user) return;
    const scope = scopeOf(ctx, user);
    const f = filtersOf(ctx);
    let pages: AsyncGenerator<AuditEvent[]>;
    let first: IteratorResult<AuditEvent[]>;
    try {
      await scope.check();
      const query = await routeQuery(services, f);
      pages = query ? eachPage<AuditEvent>(scope.read, query) : (async function* () {})();
      first = await pages.next();
    } catch (err) {
      return deps.refuse(ctx, err);
    }
    const emails = new Map<string, string | null>();
    const tr = (text: Text) => textFor(ctx, text);
    async function* lines(): AsyncGenerator<string> {
      if (kind === 'csv') yield csvRow([tr(m('Time (UTC)')), tr(m('Event')), tr(m('Event type')), tr(m('Who')), tr(m('On whom')), tr(m('From address')), tr(m('Changes')), tr(m('Event id'))]);
      for (let r = first; !r.done; r = await pages.next()) {
        for (const line of await describe(services, r.value, emails)) {
          const e = line.event;
          if (kind === 'jsonl') {
            yield `${JSON.stringify({ ...e, actor: tr(line.who), target: line.whom === null ? null : tr(line.whom) })}\n`;
          } else {
            const changes = line.changes.map((c) => `${tr(c.label)}: ${tr(c.from)} → ${tr(c.to)}`).join('; ');
            yield csvRow([e.at, tr(line.what), e.type, tr(line.who), line.whom === null ? '' : tr(line.whom), e.ip ?? '', changes, e.id]);
          }
        }
      }
    }
    const day = new Date().toISOString().slice(0, 10);
    ctx.set('Content-Disposition', `attachment; filename="gatehouse-audit-${day}.${kind}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = kind === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8';
    ctx.body = Readable.from(lines());
  }

  for (const prefix of ['/orgs/:orgId/audit', '/platform/audit']) {
    router.get(prefix, show);
    router.get(`${prefix}/export.csv`, (ctx) => exportTrail(ctx, 'csv'));
    router.get(`${prefix}/export.jsonl`, (ctx) => exportTrail(ctx, 'jsonl'));
  }
}
