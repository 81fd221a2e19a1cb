import type { AdminRoute } from '../route.js';
import * as s from '../schemas.js';
import { common, problem, reachOrganization, withNotFound } from './common.js';

/** Organizations' security policies, their preview, and the baseline. */
export const policyRoutes: AdminRoute[] = [
  {
    method: 'get',
    path: '/organizations/{orgId}/security-policy',
    summary: 'Read the security policy (every field)',
    tag: 'Security policy',
    access: 'platform or organization admin',
    responses: { 200: { description: 'The policy and whether it is in force', schema: s.policyEnvelopeSchema }, ...withNotFound },
    async handler({ principal, params, services }) {
      await reachOrganization(principal, services, params.orgId!, 'policy.read');
      return { status: 200, body: await services.policies.forOrganization(params.orgId!) };
    },
  },
  ...(['put', 'patch'] as const).map(
    (method): AdminRoute => ({
      method,
      path: '/organizations/{orgId}/security-policy',
      summary: method === 'put' ? 'Replace the security policy (omitted fields return to defaults)' : 'Change some fields of the security policy',
      tag: 'Security policy',
      access: 'platform or organization admin',
      body: s.policyUpdateSchema,
      bodyDoc: s.policyUpdateDocSchema,
      responses: {
        200: { description: 'The saved policy', schema: s.policyEnvelopeSchema },
        ...withNotFound,
        409: problem('The IP whitelist would exclude your current address; resend with confirmLockout'),
      },
      async handler({ principal, params, body, services, request }) {
        await reachOrganization(principal, services, params.orgId!, 'policy.write');
        const mode = method === 'put' ? 'replace' : 'merge';
        return {
          status: 200,
          body: await services.policies.update(params.orgId!, mode, body.policy, { actor: principal.actor, request }, body.confirmLockout),
        };
      },
    }),
  ),
  {
    method: 'post',
    path: '/organizations/{orgId}/security-policy/preview',
    summary: 'What a candidate policy would do, before saving it',
    tag: 'Security policy',
    access: 'platform or organization admin',
    body: s.previewSchema,
    bodyDoc: s.previewDocSchema,
    responses: { 200: { description: 'Impact', schema: s.previewResultSchema }, ...withNotFound },
    async handler({ principal, params, body, services, request }) {
      await reachOrganization(principal, services, params.orgId!, 'policy.read');
      return { status: 200, body: await services.policies.preview(params.orgId!, services.policies.candidate(body.policy), request) };
    },
  },
  {
    method: 'get',
    path: '/baseline-policy',
    summary: 'Read the baseline policy (users of unclaimed domains)',
    tag: 'Security policy',
    access: 'platform',
    responses: { 200: { description: 'The baseline', schema: s.baselineSchema }, ...common },
    async handler({ principal, services }) {
      await services.authorization.require(principal, { action: 'baseline.read' });
      return { status: 200, body: { policy: await services.policies.baseline() } };
    },
  },
  {
    method: 'put',
    path: '/baseline-policy',
    summary: 'Replace the baseline policy',
    tag: 'Security policy',
    access: 'platform',
    body: s.baselineUpdateSchema,
    bodyDoc: s.baselineSchema,
    responses: { 200: { description: 'The saved baseline', schema: s.baselineSchema }, ...common },
    async handler({ principal, body, services, request }) {
      await services.authorization.require(principal, { action: 'baseline.write' });
      return { status: 200, body: { policy: await services.policies.updateBaseline(body.policy, { actor: principal.actor, request }) } };
    },
  },
];
