import type Router from '@koa/router';
import type { Context } from 'koa';
import { textFor } from '../i18n/index.js';
import { m, type Text } from '../i18n/message.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../services/errors.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { allPages, field, guard, queryField } from './shared.js';
import { ROLE_WORDS } from './audit-words.js';

type Role = 'owner' | 'admin' | 'member';
interface Member {
  userId: string;
  email: string;
  name: string | null;
  role: Role;
}

const ROLES: Role[] = ['owner', 'admin', 'member'];
const GROUP_HEADINGS: Record<Role, Text> = { owner: m('Owners'), admin: m('Admins'), member: m('Members') };
const isRole = (v: unknown): v is Role => ROLES.includes(v as Role);

/**
 * A refused change in plain words, from the API's answer (its problem detail); undefined for a refusal
 * that is not about the change itself (another organization), which refuse() answers.
 */
function refusalOf(err: unknown): { problem: Text; status: number } | undefined {
  if (err instanceof ForbiddenError && err.text) return { problem: err.text, status: 403 };
  if ((err as { name?: string } | null)?.name === 'ZodError') return { problem: m('Choose a member and a role.'), status: 400 };
  if (err instanceof NotFoundError) return { problem: m('Your organization cannot add or change that user.'), status: 404 };
  if (err instanceof ConflictError) return { problem: err.text ?? m('The change was refused: {{reason}}', { reason: err.message }), status: 409 };
  return undefined;
}

/** The Members and roles page: owners, admins and members; add by email, change a role, remove — each confirmed first. */
export function memberPages(router: Router, deps: ConsolePageDeps): void {
  const base = (orgId: string) => `/console/orgs/${encodeURIComponent(orgId)}/members`;

  const members = (ctx: Context, user: ConsoleUser, orgId: string) =>
    allPages<Member>((query) => deps.callRoute(ctx, user, 'get', '/organizations/{orgId}/members', { orgId }, undefined, query));

  async function show(ctx: Context, user: ConsoleUser, orgId: string, extra: { notice?: Text; problem?: Text; emailInput?: string } = {}, status = 200) {
    const all = await members(ctx, user, orgId);
    const groups = ROLES.map((role) => ({ role, heading: GROUP_HEADINGS[role], items: all.filter((x) => x.role === role) }));
    await deps.page(ctx, user, 'console/members', { current: 'members', base: base(orgId), here: base(orgId), groups, roles: ROLES, roleWords: ROLE_WORDS, notice: null, problem: null, emailInput: '', ...extra }, status);
  }

  /** A confirmation page for one change: what will happen, and the POST form that does it. */
  async function confirm(ctx: Context, user: ConsoleUser, orgId: string, data: { title: Text; lead: Text; action: string; fields: Record<string, string>; button: Text; danger: boolean }) {
    await deps.page(ctx, user, 'console/confirm', { current: 'members', cancel: base(orgId), option: null, ...data, title: textFor(ctx, data.title) });
  }

  const memberOf = async (ctx: Context, user: ConsoleUser, orgId: string, userId: unknown) =>
    typeof userId === 'string' ? (await members(ctx, user, orgId)).find((x) => x.userId === userId) : undefined;

  /** Does a change: the organization is read first, so another organization's administrator is refused as on every page. */
  async function change(ctx: Context, g: { user: ConsoleUser; orgId: string }, act: () => Promise<unknown>, done: Text) {
    try {
      await deps.callRoute(ctx, g.user, 'get', '/organizations/{orgId}', { orgId: g.orgId });
    } catch (err) {
      return deps.refuse(ctx, err);
    }
    try {
      await act();
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal) return deps.refuse(ctx, err);
      return show(ctx, g.user, g.orgId, { problem: refusal.problem }, refusal.status);
    }
    await show(ctx, g.user, g.orgId, { notice: done });
  }


  router.get('/orgs/:orgId/members', async (ctx) => {
    const g = await guard(deps, ctx, false);
    if (g) await show(ctx, g.user, g.orgId).catch((err) => deps.refuse(ctx, err));
  });

  router.get('/orgs/:orgId/members/add', async (ctx) => {
    const g = await guard(deps, ctx, false);
    if (!g) return;
    const email = queryField(ctx, 'email');
    const role = queryField(ctx, 'role');
    try {
      if (!email || !isRole(role)) return await show(ctx, g.user, g.orgId, { problem: m('Enter the email address of the user to add, and choose a role.'), emailInput: email }, 400);
      // Only the users the organization reaches are found (the route's own scoping).
      const found = email.length <= 320
        ? ((await deps.callRoute(ctx, g.user, 'get', '/users', {}, undefined, { email: email.toLowerCase(), limit: 1 })) as { items: Array<{ id: string; email: string }> }).items[0]
        : undefined;
      if (!found) {
        return await show(ctx, g.user, g.orgId, { problem: m('No user with the address {{email}} that your organization can add. Create the user first on the Users page.', { email }), emailInput: email }, 404);
      }
      await confirm(ctx, g.user, g.orgId, {
        title: m('Add {{email}}', { email: found.email }),
        lead: m('{{email}} will be a member of this organization with the role {{role}}.', { email: found.email, role: textFor(ctx, ROLE_WORDS[role]) }),
        action: `${base(g.orgId)}/add`,
        fields: { userId: found.id, role },
        button: m('Add'),
        danger: false,
      });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  // Adding and changing a role are one API call (set the member's role); only the notice differs.
  for (const [step, done] of [['add', m('The member is added.')], ['change', m('The role is changed.')]] as const) {
    router.post(`/orgs/:orgId/members/${step}`, deps.parseForm, async (ctx) => {
      const g = await guard(deps, ctx, true);
      if (!g) return;
      const userId = field(ctx, 'userId');
      const role = field(ctx, 'role');
      if (!isRole(role)) return show(ctx, g.user, g.orgId, { problem: m('Choose a role: owner, admin or member.') }, 400).catch((err) => deps.refuse(ctx, err));
      await change(ctx, g, () => deps.callRoute(ctx, g.user, 'post', '/organizations/{orgId}/members', { orgId: g.orgId }, { userId, role }), done);
    });
  }

  router.get('/orgs/:orgId/members/change', async (ctx) => {
    const g = await guard(deps, ctx, false);
    if (!g) return;
    const role = queryField(ctx, 'role');
    try {
      const member = await memberOf(ctx, g.user, g.orgId, ctx.query.userId);
      if (!member || !isRole(role)) return await show(ctx, g.user, g.orgId, { problem: m('Choose a member and a role.') }, 404);
      if (member.role === role) return await show(ctx, g.user, g.orgId, { problem: m('{{email}} already has that role.', { email: member.email }) }, 400);
      await confirm(ctx, g.user, g.orgId, {
        title: m('Change the role of {{email}}', { email: member.email }),
        lead: m('{{email}}: {{from}} → {{to}}', { email: member.email, from: textFor(ctx, ROLE_WORDS[member.role]), to: textFor(ctx, ROLE_WORDS[role]) }),
        action: `${base(g.orgId)}/change`,
        fields: { userId: member.userId, role },
        button: m('Change the role'),
        danger: false,
      });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  router.get('/orgs/:orgId/members/remove', async (ctx) => {
    const g = await guard(deps, ctx, false);
    if (!g) return;
    try {
      const member = await memberOf(ctx, g.user, g.orgId, ctx.query.userId);
      if (!member) return await show(ctx, g.user, g.orgId, { problem: m('Choose a member.') }, 404);
      await confirm(ctx, g.user, g.orgId, {
        title: m('Remove {{email}}', { email: member.email }),
        lead: m('{{email}} will no longer be a member of this organization. Their account stays; they lose the role {{role}}.', { email: member.email, role: textFor(ctx, ROLE_WORDS[member.role]) }),
        action: `${base(g.orgId)}/remove`,
        fields: { userId: member.userId },
        button: m('Remove'),
        danger: true,
      });
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  router.post('/orgs/:orgId/members/remove', deps.parseForm, async (ctx) => {
    const g = await guard(deps, ctx, true);
    if (!g) return;
    const userId = field(ctx, 'userId');
    await change(ctx, g, () => deps.callRoute(ctx, g.user, 'delete', '/organizations/{orgId}/members/{userId}', { orgId: g.orgId, userId }), m('The member is removed.'));
  });
}
