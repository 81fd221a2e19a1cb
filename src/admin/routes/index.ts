import type { AdminRoute } from '../route.js';
import { clientRoutes } from './clients.js';
import { domainRoutes } from './domains.js';
import { eventRoutes } from './events.js';
import { keyRoutes } from './keys.js';
import { organizationRoutes } from './organizations.js';
import { policyRoutes } from './policies.js';
import { userRoutes } from './users.js';

/** Every admin API route, in the order the OpenAPI document lists them. */
export const adminRoutes: AdminRoute[] = [
  ...organizationRoutes,
  ...domainRoutes,
  ...policyRoutes,
  ...userRoutes,
  ...clientRoutes,
  ...eventRoutes,
  ...keyRoutes,
];
