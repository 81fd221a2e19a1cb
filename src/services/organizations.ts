import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AccountStore, OrgRole } from '../stores/sql/accounts.js';
import type { OrganizationRecord, OrganizationStore } from '../stores/sql/organizations.js';
import { nowSeconds } from '../stores/db.js';
import type { Actor, AuditService, RequestInfo } from './audit.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';

export const ORG_ROLES = ['owner', 'admin', 'member'] as const satisfies readonly OrgRole[];

const nameSchema = z.string().trim().min(1, 'is required').max(200, 'must be at most 200 characters');

export class OrganizationService {
  constructor(
    private readonly organizations: OrganizationStore,
    private readonly accounts: AccountStore,
    private readonly audit: AuditService,
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

  async addMember(organizationId: string, userId: string, role: OrgRole, actor: Actor, request?: RequestInfo) {
    await this.get(organizationId);
    const account = await this.accounts.findById(userId);
    if (!account) throw new NotFoundError('user');
    if (!(await this.accounts.setMembership(userId, organizationId, role, nowSeconds()))) {
      throw new ConflictError('the user already belongs to another organization');
    }
    await this.audit.record('organization.member_set', {
      actor,
      organizationId,
      target: { type: 'user', id: userId },
      request,
      data: { before: { role: account.organizationId === organizationId ? account.orgRole : null }, after: { role } },
    });
    return (await this.accounts.findById(userId))!;
  }

  async removeMember(organizationId: string, userId: string, actor: Actor, request?: RequestInfo): Promise<void> {
    const account = await this.accounts.findById(userId);
    if (!account || account.organizationId !== organizationId) throw new NotFoundError('member');
    await this.accounts.setMembership(userId, null, null, nowSeconds());
    await this.audit.record('organization.member_removed', {
      actor,
      organizationId,
      target: { type: 'user', id: userId },
      request,
      data: { before: { role: account.orgRole }, after: null },
    });
  }
}
