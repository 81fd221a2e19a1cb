import type { z } from 'zod';
import type { ClientChanges } from '../../services/clients.js';
import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { clientView, common, problem, withNotFound } from './common.js';

/** A body's registration fields (POST and PUT), as the client service names them. */
const registrationOf = (body: z.output<typeof s.clientChangesSchema>): ClientChanges => ({
  clientName: body.client_name,
  redirectUris: body.redirect_uris,
  postLogoutRedirectUris: body.post_logout_redirect_uris,
  backchannelLogoutUri: body.backchannel_logout_uri,
  thirdParty: body.third_party,
});

/** OIDC clients (platform admin only). */
export const clientRoutes: AdminRoute[] = [
  {
    method: 'post',
    path: '/clients',
    summary: 'Register an OIDC client',
    tag: 'Clients',
    access: 'platform',
    body: s.newClientSchema,
    responses: { 201: { description: 'Created; client_secret is shown once', schema: s.createdClientSchema }, ...common },
    async handler({ principal, body, services, request }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const { client, clientSecret } = await services.clients.create({ ...registrationOf(body), sessionType: body.session_type });
      await services.audit.record('client.created', {
        actor: principal.actor,
        target: { type: 'client', id: client.clientId },
        request,
        data: { after: clientView(client) },
      });
      return { status: 201, body: { ...clientView(client), ...(clientSecret ? { client_secret: clientSecret } : {}) } };
    },
  },
  {
    method: 'get',
    path: '/clients',
    summary: 'List clients in client_id order',
    tag: 'Clients',
    access: 'platform',
    query: s.pageQuery,
    responses: { 200: { description: 'One page of clients', schema: s.page(s.clientWithOriginSchema) }, ...common },
    async handler({ principal, query, services }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const result = await services.clients.list({ afterId: query.cursor, limit: query.limit });
      const items = result.items.map((c) => ({ ...clientView(c), built_in: services.clients.isBuiltIn(c.clientId) }));
      return { status: 200, body: { items, nextCursor: result.nextCursor } };
    },
  },
  {
    method: 'post',
    path: '/clients/{clientId}/secret',
    summary: 'Give a web client a new secret: shown once, the previous secret stops working at once',
    tag: 'Clients',
    access: 'platform',
    responses: {
      200: { description: 'The new secret, shown once', schema: s.rotatedSecretSchema },
      ...withNotFound,
      409: problem('A built-in client, or a public client (which has no secret)'),
    },
    async handler({ principal, params, services, request }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const { client, clientSecret } = await services.clients.rotateSecret(params.clientId!);
      await services.audit.record('client.secret_rotated', { actor: principal.actor, target: { type: 'client', id: client.clientId }, request });
      return { status: 200, body: { client_id: client.clientId, client_secret: clientSecret } };
    },
  },
  {
    method: 'get',
    path: '/clients/{clientId}',
    summary: 'Read a client',
    tag: 'Clients',
    access: 'platform',
    responses: { 200: { description: 'The client', schema: s.clientWithOriginSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const client = await services.clients.get(params.clientId!);
      return { status: 200, body: { ...clientView(client), built_in: services.clients.isBuiltIn(client.clientId) } };
    },
  },
  {
    method: 'put',
    path: '/clients/{clientId}',
    summary: 'Change a client\'s registration: name, redirect URIs, back-channel logout URI, third party. The client id, secret and session type stay',
    tag: 'Clients',
    access: 'platform',
    body: s.clientChangesSchema,
    responses: {
      200: { description: 'The client as changed', schema: s.clientWithOriginSchema },
      ...withNotFound,
      409: problem('A built-in client, or a change made by someone else at the same moment'),
    },
    async handler({ principal, params, body, services, request }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const { before, after } = await services.clients.update(params.clientId!, registrationOf(body));
      await services.audit.record('client.updated', {
        actor: principal.actor,
        target: { type: 'client', id: after.clientId },
        request,
        data: { before: clientView(before), after: clientView(after) },
      });
      return { status: 200, body: { ...clientView(after), built_in: false } };
    },
  },
  {
    method: 'delete',
    path: '/clients/{clientId}',
    summary: 'Delete a client (its tokens stop working)',
    tag: 'Clients',
    access: 'platform',
    responses: { 204: { description: 'Deleted' }, ...withNotFound, 409: problem('A built-in client') },
    async handler({ principal, params, services, request }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      const before = await services.clients.get(params.clientId!);
      await services.clients.remove(params.clientId!);
      await services.audit.record('client.deleted', {
        actor: principal.actor,
        target: { type: 'client', id: before.clientId },
        request,
        data: { before: clientView(before), after: null },
      });
      return { status: 204 };
    },
  },
];
