import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { clientView, common, withNotFound } from './common.js';

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
      const { client, clientSecret } = await services.clients.create({
        clientName: body.client_name,
        sessionType: body.session_type,
        redirectUris: body.redirect_uris,
        postLogoutRedirectUris: body.post_logout_redirect_uris,
        backchannelLogoutUri: body.backchannel_logout_uri,
        thirdParty: body.third_party,
      });
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
    path: '/clients/{clientId}',
    summary: 'Read a client',
    tag: 'Clients',
    access: 'platform',
    responses: { 200: { description: 'The client', schema: s.clientSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      await services.authorization.require(principal, { action: 'client.manage' });
      return { status: 200, body: clientView(await services.clients.get(params.clientId!)) };
    },
  },
  {
    method: 'delete',
    path: '/clients/{clientId}',
    summary: 'Delete a client (its tokens stop working)',
    tag: 'Clients',
    access: 'platform',
    responses: { 204: { description: 'Deleted' }, ...withNotFound },
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
