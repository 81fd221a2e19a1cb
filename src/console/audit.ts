import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { textFor } from '../i18n/index.js';
import { m, type Text } from '../i18n/message.js';
import type { AuditEvent } from '../stores/sql/audit.js';
import { EVENT_WORDS, eventWords } from './audit-words.js';
import { csvRow } from './csv.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { asIs, describeChanges, type Change } from './policy-diff.js';
import { eachPage, queryField } from './shared.js';
import { ForbiddenError, NotFoundError } from '../services/errors.js';

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
 * An email is looked up through the users route, so an organization's administrator finds only the
 * accounts they may read: an address elsewhere on the platform answers exactly like one that does not exist.
 */
async function routeQuery(findUser: (email: string) => Promise<string | undefined>, f: Filters): Promise<Record<string, unknown> | undefined> {
  let user: string | undefined;
  if (f.user.includes('@')) {
    user = await findUser(f.user.toLowerCase());
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

/** Describes events; `nameOf` gives a user's name as the viewer may see it. */
async function describe(nameOf: (id: string) => Promise<Text>, events: AuditEvent[]): Promise<EventLine[]> {
  const lines: EventLine[] = [];
  for (const e of events) {
    let who: Text;
    if (e.actorType === 'user' && e.actorId) who = await nameOf(e.actorId);
    else if (e.actorType === 'system') who = m('Gatehouse');
    else if (e.actorType === 'client') who = m('Client {{id}}', { id: e.actorId ?? '' });
    else who = m('Someone not signed in');
    let whom: Text | null = null;
    if (e.targetType === 'user' && e.targetId) whom = await nameOf(e.targetId);
    else if (e.targetType) whom = TARGET_WORDS[e.targetType] ?? asIs(e.targetId ?? e.targetType);
    const data = e.data ?? {};
    const changes = 'before' in data || 'after' in data ? describeChanges(data.before, data.after) : [];
    lines.push({ event: e, who, what: eventWords(e.type), whom, changes });
  }
  return lines;
}

const OUTSIDE = m('a user outside this organization');
const PLATFORM_ADMIN = m('a platform administrator');

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
    /**
     * Names come through the users route too: an organization's trail also records administrators and
     * accounts it may not read (a platform admin, another organization's user it once had as a member);
     * their addresses are not this organization's to see. Each account is looked up once per request.
     */
    const names = new Map<string, Promise<Text>>();
    const nameOf = (id: string): Promise<Text> => {
      let name = names.get(id);
      if (!name) {
        name = (deps.callRoute(ctx, user, 'get', '/users/{userId}', { userId: id }) as Promise<{ email: string }>).then(
          (u) => asIs(u.email),
          async (err: unknown) => {
            if (!(err instanceof NotFoundError || err instanceof ForbiddenError)) throw err;
            if (!orgId) return asIs(id);
            // Who acted on the organization is its business, though not their address: say when it was the platform.
            return (await deps.services.accounts.findById(id))?.platformAdmin ? PLATFORM_ADMIN : OUTSIDE;
          },
        );
        names.set(id, name);
      }
      return name;
    };
    const findUser = async (email: string) =>
      ((await deps.callRoute(ctx, user, 'get', '/users', {}, undefined, { email, limit: 1 })) as { items: Array<{ id: string }> }).items[0]?.id;
    return {
      orgId,
      base: orgId ? `/console/orgs/${encodeURIComponent(orgId)}/audit` : '/console/platform/audit',
      read,
      nameOf,
      findUser,
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
      const query = await routeQuery(scope.findUser, f);
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
        lines: await describe(scope.nameOf, page.items),
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
      const query = await routeQuery(scope.findUser, f);
      pages = query ? eachPage<AuditEvent>(scope.read, query) : (async function* () {})();
      first = await pages.next();
    } catch (err) {
      return deps.refuse(ctx, err);
    }
    const tr = (text: Text) => textFor(ctx, text);
    async function* lines(): AsyncGenerator<string> {
      if (kind === 'csv') yield csvRow([tr(m('Time (UTC)')), tr(m('Event')), tr(m('Event type')), tr(m('Who')), tr(m('On whom')), tr(m('From address')), tr(m('Changes')), tr(m('Event id'))]);
      for (let r = first; !r.done; r = await pages.next()) {
        for (const line of await describe(scope.nameOf, r.value)) {
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
