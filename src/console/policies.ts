import type Router from '@koa/router';
import type { Context } from 'koa';
import { m, type Text } from '../i18n/message.js';
import { requestInfo } from '../http/request-info.js';
import { ipInList } from '../policy/ip.js';
import { validatePolicy, type SecurityPolicy } from '../policy/security-policy.js';
import type { DomainClaimView } from '../services/domains.js';
import { ConflictError, ValidationError } from '../services/errors.js';
import type { PolicyPreview } from '../services/policies.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { guard as guardOf } from './shared.js';
import { changesBetween, GROUPS, placeErrors, policyOf, sessionsEnding, valuesFromBody, valuesOf, type FormValues } from './policy-form.js';

/** The preview route's answer, or (the baseline) only whether the whitelist leaves out the administrator's address. */
type Impact = PolicyPreview | Pick<PolicyPreview, 'callerAddress' | 'callerOutsideWhitelist'>;

const CONFIRM_LOCKOUT = m('Confirm that you understand you will lose access from your current address, or change the IP whitelist.');

/** What the editor's four handlers need to know about the policy they edit: an organization's or the baseline. */
interface Target {
  current: 'policies' | 'baseline';
  /** The page's path. */
  base(ctx: Context): string;
  /** The stored policy (refuses a caller who may not read it); `inForce` null where the question does not arise. */
  read(ctx: Context, user: ConsoleUser): Promise<{ policy: SecurityPolicy; inForce: boolean | null }>;
  /** What the candidate would do; throws ValidationError as the API would. Without counts where the API has no preview. */
  preview(ctx: Context, user: ConsoleUser, doc: object): Promise<Impact>;
  save(ctx: Context, user: ConsoleUser, doc: object, confirmLockout: boolean): Promise<void>;
}

const orgTarget: (deps: ConsolePageDeps) => Target = (deps) => ({
  current: 'policies',
  base: (ctx) => `/console/orgs/${encodeURIComponent(ctx.params.orgId!)}/security-policies`,
  async read(ctx, user) {
    const params = { orgId: ctx.params.orgId! };
    const { policy } = (await deps.callRoute(ctx, user, 'get', '/organizations/{orgId}/security-policy', params)) as { policy: SecurityPolicy };
    const claims = (await deps.callRoute(ctx, user, 'get', '/organizations/{orgId}/domains', params)) as { items: DomainClaimView[] };
    return { policy, inForce: claims.items.some((c) => c.status === 'verified') };
  },
  async preview(ctx, user, doc) {
    return (await deps.callRoute(ctx, user, 'post', '/organizations/{orgId}/security-policy/preview', { orgId: ctx.params.orgId! }, { policy: doc })) as PolicyPreview;
  },
  async save(ctx, user, doc, confirmLockout) {
    await deps.callRoute(ctx, user, 'put', '/organizations/{orgId}/security-policy', { orgId: ctx.params.orgId! }, { policy: doc, confirmLockout });
  },
});

const baselineTarget: (deps: ConsolePageDeps) => Target = (deps) => ({
  current: 'baseline',
  base: () => '/console/platform/baseline-policy',
  async read(ctx, user) {
    const { policy } = (await deps.callRoute(ctx, user, 'get', '/baseline-policy', {})) as { policy: SecurityPolicy };
    return { policy, inForce: null };
  },
  // The API has no preview of the baseline: the candidate is checked with the API's own validation, and the
  // review page lists the changes for confirmation; saving checks it again. The baseline governs every
  // unclaimed domain, perhaps the administrator's own: a whitelist without their address is confirmed too.
  async preview(ctx, _user, doc) {
    const checked = validatePolicy(doc);
    if (!checked.ok) throw new ValidationError(checked.errors);
    const { enabled, cidrs } = checked.policy.login.ipWhitelist;
    const ip = requestInfo(ctx, deps.trustedProxies).ip;
    return { callerAddress: ip, callerOutsideWhitelist: enabled && !(ip !== null && ipInList(ip, cidrs)) };
  },
  async save(ctx, user, doc) {
    await deps.callRoute(ctx, user, 'put', '/baseline-policy', {}, { policy: doc });
  },
});

/**
 * The security-policy editor, on an organization's Security Policies page and the platform's Baseline policy
 * page: edit → preview (what the candidate would do) → save, or back to editing with the values kept.
 */
export function policyPages(router: Router, deps: ConsolePageDeps): void {
  register(router, deps, '/orgs/:orgId/security-policies', orgTarget(deps));
  register(router, deps, '/platform/baseline-policy', baselineTarget(deps));
}

function register(router: Router, deps: ConsolePageDeps, path: string, target: Target): void {
  const ownAddress = (ctx: Context) => requestInfo(ctx, deps.trustedProxies).ip;

  const guard = async (ctx: Context, form: boolean) => (await guardOf(deps, ctx, form))?.user;

  async function editor(ctx: Context, user: ConsoleUser, extra: { values?: FormValues; problems?: ValidationError; notice?: Text }, status = 200) {
    const { policy, inForce } = await target.read(ctx, user);
    const values = extra.values ?? valuesOf(policy);
    const { byField, general } = placeErrors(extra.problems?.errors ?? [], values);
    await deps.page(ctx, user, 'console/policies', {
      current: target.current,
      base: target.base(ctx),
      groups: GROUPS,
      values,
      fieldErrors: byField,
      errors: general.length ? general : extra.problems ? [m('Some settings need correcting: see the messages next to them.')] : [],
      notice: extra.notice ?? null,
      inForce,
      ownAddress: ownAddress(ctx),
    }, status);
  }

  async function review(ctx: Context, user: ConsoleUser, values: FormValues, impact: Impact, problem: Text | null, status = 200) {
    const { policy } = await target.read(ctx, user);
    const candidate = validatePolicy(policyOf(values));
    if (!candidate.ok) throw new ValidationError(candidate.errors);
    await deps.page(ctx, user, 'console/policy-preview', {
      current: target.current,
      base: target.base(ctx),
      values,
      impact,
      changes: changesBetween(policy, candidate.policy),
      sessions: target.current === 'policies' ? sessionsEnding(policy, candidate.policy) : [],
      errors: problem ? [problem] : [],
    }, status);
  }

  /** A refusal or an invalid candidate (back to the editor with the API's words next to the fields). */
  const answer = (ctx: Context, user: ConsoleUser, values: FormValues) => async (err: unknown) => {
    if (err instanceof ValidationError) return editor(ctx, user, { values, problems: err }, 400).catch((e) => deps.refuse(ctx, e));
    return deps.refuse(ctx, err);
  };

  router.get(path, async (ctx) => {
    const user = await guard(ctx, false);
    if (!user) return;
    await editor(ctx, user, { notice: ctx.query.saved === '1' ? m('Saved') : undefined }).catch((err) => deps.refuse(ctx, err));
  });

  router.post(`${path}/preview`, deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const values = valuesFromBody(ctx.request.body);
    try {
      await review(ctx, user, values, await target.preview(ctx, user, policyOf(values)), null);
    } catch (err) {
      await answer(ctx, user, values)(err);
    }
  });

  router.post(`${path}/edit`, deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (user) await editor(ctx, user, { values: valuesFromBody(ctx.request.body) }).catch((err) => deps.refuse(ctx, err));
  });

  router.post(`${path}/save`, deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const values = valuesFromBody(ctx.request.body);
    const doc = policyOf(values);
    const confirmed = (ctx.request.body as Record<string, unknown>).confirmLockout === 'true';
    try {
      // The preview answers whether the whitelist leaves out the administrator's address: that needs their confirmation.
      const impact = await target.preview(ctx, user, doc);
      if (impact.callerOutsideWhitelist && !confirmed) {
        return await review(ctx, user, values, impact, CONFIRM_LOCKOUT, 409);
      }
      await target.save(ctx, user, doc, confirmed);
    } catch (err) {
      if (err instanceof ConflictError) {
        return review(ctx, user, values, await target.preview(ctx, user, doc), CONFIRM_LOCKOUT, 409).catch((e) => deps.refuse(ctx, e));
      }
      return answer(ctx, user, values)(err);
    }
    ctx.status = 303;
    ctx.redirect(`${target.base(ctx)}?saved=1`);
  });
}
