import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AccountRecord, AccountStore, OrgRole } from '../stores/sql/accounts.js';
import type { MembershipOrigin, MembershipStore } from '../stores/sql/memberships.js';
import type { OrganizationRecord, OrganizationStore } from '../stores/sql/organizations.js';
import { nowSeconds } from '../stores/db.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { PolicyService } from './policies.js';
import { m } from '../i18n/message.js';

export const ORG_ROLES = ['owner', 'admin', 'member'] as const satisfies readonly OrgRole[];

const nameSchema = z.string().trim().min(1, 'is required').max(200, 'must be at most 200 characters');

export class OrganizationService {
  constructor(
    private readonly organizations: OrganizationStore,
    private readonly accounts: AccountStore,
    private readonly audit: AuditService,
    private readonly memberships: MembershipStore,
    private readonly policies: PolicyService,
  ) {}

  async create(name: string, actor: Actor, request?: RequestInfo): Promise<OrganizationRecord> {
    const parsed = nameSchema.safeParse(name);
    if (!parsed.success) throw new ValidationError([{ field: 'name', message: parsed.error.issues[0]!.message }]);
    const now = nowSeconds();
    const org: OrganizationRecord = { id: randomUUID(), name: parsed.data, createdAt: now, updatedAt: now };
    await this.organizations.create(org);
    await this.audit.record('organization.created', { actor, organizationId: org.id, target: { type: 'organization', id: org.id }, request, data: { after: { name: org.name } } });
    return org;
  }

  async get(id: string): Promise<OrganizationRecord> {
    const org = await this.organizations.find(id);
    if (!org) throw new NotFoundError('organization');
    return org;
  }

  /** One page of organizations in name order (stores/sql/organizations list); `nextCursor`: the id to pass as `afterId` for the next. */
  async list(opts: { q?: string; ids?: string[]; afterId?: string; limit: number }): Promise<{ items: OrganizationRecord[]; nextCursor: string | null }> {
    const found = await this.organizations.list({ ...opts, limit: opts.limit + 1 });
    const items = found.slice(0, opts.limit);
    return { items, nextCursor: found.length > opts.limit ? items[items.length - 1]!.id : null };
  }

  /**
   * A membership event goes to the organization's trail and, when another organization's policy
   * governs the user (a platform admin added them), to that organization's trail too.
   */
  private async recordMembership(type: string, organizationId: string, account: AccountRecord, actor: Actor, request: RequestInfo | undefined, data: Record<string, unknown>) {
    const governing = (await this.policies.effectiveFor(account)).organizationId;
    for (const trail of new Set([organizationId, governing ?? organizationId])) {
      await this.audit.record(type, { actor, organizationId: trail, target: { type: 'user', id: account.id }, request, data });
    }
  }

  /** Adds the user, or changes their role; `addedBy` says whether a platform admin or the organization did it. */
  async addMember(organizationId: string, userId: string, role: OrgRole, actor: Actor, request: RequestInfo | undefined, addedBy: MembershipOrigin) {
    await this.get(organizationId);
    const account = await this.accounts.findById(userId);
    if (!account) throw new NotFoundError('user');
    switch (await this.memberships.join(userId, organizationId, role, addedBy, nowSeconds())) {
      case 'missing':
        throw new NotFoundError('user');
      case 'other-organization':
        throw new ConflictError('the user already belongs to another organization', m('That user already belongs to another organization.'));
      case 'last-owner':
        throw new ConflictError('the last owner of an organization cannot be demoted; make another owner first', m('The last owner of an organization cannot be removed or demoted; make another owner first.'));
      default:
    }
    await this.recordMembership('organization.member_set', organizationId, account, actor, request, {
      before: { role: account.organizationId === organizationId ? account.orgRole : null },
      after: { role },
      addedBy,
    });
    return (await this.accounts.findById(userId))!;
  }

  /** Records who made a membership that came with the account (create-user with organizationId). */
  async setMembershipOrigin(userId: string, organizationId: string, addedBy: MembershipOrigin): Promise<void> {
    await this.memberships.setOrigin(userId, organizationId, addedBy);
  }

  async removeMember(organizationId: string, userId: string, actor: Actor, request?: RequestInfo): Promise<void> {
    const account = await this.accounts.findById(userId);
    if (!account || account.organizationId !== organizationId) throw new NotFoundError('member');
    switch (await this.memberships.leave(userId, organizationId, nowSeconds())) {
      case 'not-member':
        throw new NotFoundError('member');
      case 'last-owner':
        throw new ConflictError('the last owner of an organization cannot be removed; make another owner first', m('The last owner of an organization cannot be removed or demoted; make another owner first.'));
      default:
    }
    await this.recordMembership('organization.member_removed', organizationId, account, actor, request, { before: { role: account.orgRole }, after: null });
  }
}
