import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { reachOrganization, withNotFound } from './common.js';

/** An organization's audit trail. */
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
      const items = await services.audit.list({
        organizationId: params.orgId!,
        types: query.type ? String(query.type).split(',').map((t: string) => t.trim()).filter(Boolean) : undefined,
        sinceMs: query.since ? Date.parse(query.since) : undefined,
        untilMs: query.until ? Date.parse(query.until) : undefined,
        beforeId: query.cursor ? Number(query.cursor) : undefined,
        limit: query.limit + 1,
      });
      const more = items.length > query.limit;
      const pageItems = more ? items.slice(0, query.limit) : items;
      return { status: 200, body: { items: pageItems, nextCursor: more ? pageItems[pageItems.length - 1]!.id : null } };
    },
  },
];
