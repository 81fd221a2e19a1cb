import type Router from '@koa/router';
import type { Context } from 'koa';
import { m, type Text } from '../i18n/message.js';
import type { DomainClaimView } from '../services/domains.js';
import { DomainVerificationFailed } from '../services/domains.js';
import { ConflictError, ValidationError } from '../services/errors.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { field, guard as guardOf } from './shared.js';

const DOMAIN_EVENTS = ['domain.added', 'domain.verified', 'domain.verification_failed', 'domain.revoked', 'domain.reverification_failed'];

/** What each verification outcome means, in plain words. */
const OUTCOMES: Record<DomainVerificationFailed['outcome'], Text> = {
  'not-found': m('No TXT record was found at that name yet. Create it, wait a few minutes for DNS to update, then try again.'),
  'other-value': m('A TXT record was found at that name, but with another value. Check that you copied the value exactly.'),
  timeout: m('The DNS servers did not answer in time. Try again in a moment.'),
  error: m('The DNS lookup failed. Try again in a moment.'),
};

/** Plain words for a domain event of the claim's history. */
const EVENT_WORDS: Record<string, Text> = {
  'domain.added': m('Claimed'),
  'domain.verified': m('Verified'),
  'domain.verification_failed': m('Verification failed'),
  'domain.revoked': m('Revoked'),
};

/** The Domain page: claim, the TXT record to create, verify now, status and history, revoke with its consequence. */
export function domainPages(router: Router, deps: ConsolePageDeps): void {
  const { services } = deps;
  const base = (orgId: string) => `/console/orgs/${encodeURIComponent(orgId)}/domain`;

  async function show(ctx: Context, user: ConsoleUser, orgId: string, extra: { notice?: Text; problem?: Text; domainInput?: string } = {}, status = 200) {
    const claims = (await deps.callRoute(ctx, user, 'get', '/organizations/{orgId}/domains', { orgId })) as { items: DomainClaimView[] };
    const events = await services.audit.list({ organizationId: orgId, types: DOMAIN_EVENTS, limit: 50 });
    const history = events.map((e) => ({
      at: new Date(e.at),
      what: EVENT_WORDS[e.type] ?? e.type,
      domain: e.targetId,
      reason: typeof e.data?.reason === 'string' ? e.data.reason : null,
    }));
    await deps.page(ctx, user, 'console/domain', { current: 'domain', base: base(orgId), here: base(orgId), claims: claims.items, history, notice: null, problem: null, domainInput: '', ...extra }, status);
  }

  const guard = (ctx: Context, form: boolean) => guardOf(deps, ctx, form);


  router.get('/orgs/:orgId/domain', async (ctx) => {
    const g = await guard(ctx, false);
    if (g) await show(ctx, g.user, g.orgId).catch((err) => deps.refuse(ctx, err));
  });

  router.post('/orgs/:orgId/domain/claim', deps.parseForm, async (ctx) => {
    const g = await guard(ctx, true);
    if (!g) return;
    const domain = field(ctx, 'domain');
    try {
      await deps.callRoute(ctx, g.user, 'post', '/organizations/{orgId}/domains', { orgId: g.orgId }, { domain });
    } catch (err) {
      if (err instanceof ValidationError || (err as { name?: string }).name === 'ZodError') {
        return show(ctx, g.user, g.orgId, { problem: m('Enter a domain name such as example.com.'), domainInput: domain }, 400).catch((e) => deps.refuse(ctx, e));
      }
      if (err instanceof ConflictError) {
        return show(ctx, g.user, g.orgId, { problem: m('Your organization already claims {{domain}}.', { domain }), domainInput: domain }, 409);
      }
      return deps.refuse(ctx, err);
    }
    await show(ctx, g.user, g.orgId, { notice: m('{{domain}} is claimed. Create the TXT record below, then verify.', { domain }) }, 201);
  });

  router.post('/orgs/:orgId/domain/verify', deps.parseForm, async (ctx) => {
    const g = await guard(ctx, true);
    if (!g) return;
    const domain = field(ctx, 'domain');
    // A platform administrator may verify without DNS (the API's force, a platform action), once they confirm they checked.
    const force = field(ctx, 'force') === 'true';
    if (force && field(ctx, 'checked') !== 'true') {
      return show(ctx, g.user, g.orgId, { problem: m('Confirm that you checked that the organization owns {{domain}}.', { domain }) }, 400).catch((e) => deps.refuse(ctx, e));
    }
    try {
      await deps.callRoute(ctx, g.user, 'post', '/organizations/{orgId}/domains/{domain}/verify', { orgId: g.orgId, domain }, force ? { force: true } : {});
    } catch (err) {
      if (err instanceof DomainVerificationFailed) return show(ctx, g.user, g.orgId, { problem: OUTCOMES[err.outcome] }, 422);
      return deps.refuse(ctx, err);
    }
    await show(ctx, g.user, g.orgId, {
      notice: force
        ? m('{{domain}} is verified without a DNS check. The security policies apply to its users.', { domain })
        : m('The TXT record was found: {{domain}} is verified. Your security policies apply to its users.', { domain }),
    });
  });

  router.get('/orgs/:orgId/domain/revoke', async (ctx) => {
    const g = await guard(ctx, false);
    if (!g) return;
    const domain = typeof ctx.query.domain === 'string' ? ctx.query.domain : '';
    try {
      const { items } = (await deps.callRoute(ctx, g.user, 'get', '/organizations/{orgId}/domains', { orgId: g.orgId })) as { items: DomainClaimView[] };
      const claim = items.find((c) => c.domain === domain.toLowerCase() && c.status !== 'revoked');
      if (!claim) return show(ctx, g.user, g.orgId, { problem: m('There is no current claim on {{domain}}.', { domain }) }, 404);
      // Only a verified claim governs anyone; a pending one governs no one yet.
      const count = claim.status === 'verified' ? await services.policies.accountsOnDomain(claim.domain) : 0;
      await deps.page(ctx, g.user, 'console/domain-revoke', { current: 'domain', base: base(g.orgId), claim, count });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  router.post('/orgs/:orgId/domain/revoke', deps.parseForm, async (ctx) => {
    const g = await guard(ctx, true);
    if (!g) return;
    const domain = field(ctx, 'domain');
    try {
      await deps.callRoute(ctx, g.user, 'delete', '/organizations/{orgId}/domains/{domain}', { orgId: g.orgId, domain });
    } catch (err) {
      return deps.refuse(ctx, err);
    }
    await show(ctx, g.user, g.orgId, { notice: m('The claim on {{domain}} is revoked. Your security policies no longer apply to its users.', { domain }) });
  });
}
