import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { common, iso } from './common.js';

/** Signing keys (platform admin only): the same rotation as `gatehouse keys rotate`. */
export const keyRoutes: AdminRoute[] = [
  {
    method: 'get',
    path: '/keys',
    summary: 'List the signing keys (public facts only: never private material)',
    tag: 'Keys',
    access: 'platform',
    responses: { 200: { description: 'The signing keys: current, next, then retired', schema: s.signingKeyListSchema }, ...common },
    async handler({ principal, services }) {
      await services.authorization.require(principal, { action: 'keys.read' });
      const items = (await services.keys.list()).map((k) => ({ ...k, createdAt: iso(k.createdAt), stateChangedAt: iso(k.stateChangedAt) }));
      return { status: 200, body: { items } };
    },
  },
  {
    method: 'post',
    path: '/keys/rotate',
    summary: 'Rotate the signing keys: the published next key starts signing, a new next key is published',
    tag: 'Keys',
    access: 'platform',
    responses: { 200: { description: 'The key IDs after the rotation', schema: s.keyRotationSchema }, ...common },
    async handler({ principal, services, request }) {
      await services.authorization.require(principal, { action: 'keys.rotate' });
      // The node serving this call signs with the new key at once; the others within KEYS_REFRESH_SECONDS.
      const rotated = await services.keys.rotate();
      await services.audit.record('keys.rotated', {
        actor: principal.actor,
        target: { type: 'signing-key', id: rotated.current },
        request,
        data: { after: rotated },
      });
      return { status: 200, body: rotated };
    },
  },
];
