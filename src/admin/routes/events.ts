import type { Services } from '../../services/index.js';
import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { common, reachOrganization, withNotFound } from './common.js';

type EventQuery = { type?: string; user?: string; since?: string; until?: string; cursor?: string; limit: number };

/** One page of the trail, newest first; `organizationId` unset reads all of it. */
async function eventPage(services: Services, organizationId: string | undefined, query: EventQuery) {
  const items = await services.audit.list({
    organizationId,
    types: query.type ? String(query.type).split(',').map((t: string) => t.trim()).filter(Boolean) : undefined,
    userId: query.user,
    sinceMs: query.since ? Date.parse(query.since) : undefined,
    untilMs: query.until ? Date.parse(query.until) : undefined,
    beforeId: query.cursor ? Number(query.cursor) : undefined,
    limit: query.limit + 1,
  });
  const more = items.length > query.limit;
  const pageItems = more ? items.slice(0, query.limit) : items;
  return { status: 200, body: { items: pageItems, nextCursor: more ? pageItems[pageItems.length - 1]!.id : null } };
}

/** The audit trail: an organization's, and the whole platform's (events outside any organization among them). */
export const eventRoutes: AdminRoute[] = [
  {
    method: 'get',
    path: '/organizations/{orgId}/events',
    summary: 'The organization\'s audit trail, newest first',
    tag: 'Audit',
    access: 'platform or organization admin',
    query: s.eventQuery,
    responses: { 200: { description: 'One page of events', schema: s.page(s.eventSchema) }, ...withNotFound },
    async handler({ principal, params, query, services }) {
      await reachOrganization(principal, services, params.orgId!, 'events.read');
      return eventPage(services, params.orgId!, query as EventQuery);
    },
  },
  {
    method: 'get',
    path: '/events',
    summary: 'The whole audit trail, newest first: every organization\'s events and those outside any organization',
    tag: 'Audit',
    access: 'platform',
    query: s.eventQuery,
    responses: { 200: { description: 'One page of events', schema: s.page(s.eventSchema) }, ...common },
    async handler({ principal, query, services }) {
      await services.authorization.require(principal, { action: 'events.read-all' });
      return eventPage(services, undefined, query as EventQuery);
    },
  },
];
