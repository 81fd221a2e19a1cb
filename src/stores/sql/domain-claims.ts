import type { Db } from '../db.js';
import { isUniqueViolation } from './accounts.js';

export type ClaimStatus = 'pending' | 'verified' | 'revoked';

export interface DomainClaimRecord {
  id: string;
  organizationId: string;
  domain: string;
  status: ClaimStatus;
  token: string;
  createdAt: number;
  verifiedAt: number | null;
  revokedAt: number | null;
  revokedReason: string | null;
  lastCheckedAt: number | null;
  consecutiveFailures: number;
}

export interface ClaimRow {
  id: string;
  organization_id: string;
  domain: string;
  status: ClaimStatus;
  token: string;
  created_at: number;
  verified_at: number | null;
  revoked_at: number | null;
  revoked_reason: string | null;
  last_checked_at: number | null;
  consecutive_failures: number;
}

export const claimFromRow = (r: ClaimRow): DomainClaimRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  domain: r.domain,
  status: r.status,
  token: r.token,
  createdAt: r.created_at,
  verifiedAt: r.verified_at,
  revokedAt: r.revoked_at,
  revokedReason: r.revoked_reason,
  lastCheckedAt: r.last_checked_at,
  consecutiveFailures: r.consecutive_failures,
});

export class DomainClaimStore {
  constructor(private readonly db: Db) {}

  async insert(c: DomainClaimRecord): Promise<void> {
    await this.db<ClaimRow>('domain_claims').insert({
      id: c.id,
      organization_id: c.organizationId,
      domain: c.domain,
      status: c.status,
      token: c.token,
      created_at: c.createdAt,
      verified_at: c.verifiedAt,
      revoked_at: c.revokedAt,
      revoked_reason: c.revokedReason,
      last_checked_at: c.lastCheckedAt,
      consecutive_failures: c.consecutiveFailures,
    });
  }

  /** A revoked claim claimed again: pending, with a new token. */
  async reopen(id: string, token: string, now: number): Promise<void> {
    await this.db<ClaimRow>('domain_claims').where({ id }).update({
      status: 'pending',
      token,
      created_at: now,
      verified_at: null,
      revoked_at: null,
      revoked_reason: null,
      consecutive_failures: 0,
      last_checked_at: null,
    });
  }

  async find(organizationId: string, domain: string): Promise<DomainClaimRecord | undefined> {
    const row = await this.db<ClaimRow>('domain_claims').where({ organization_id: organizationId, domain }).first();
    return row && claimFromRow(row);
  }

  async listByOrganization(organizationId: string): Promise<DomainClaimRecord[]> {
    return (await this.db<ClaimRow>('domain_claims').where({ organization_id: organizationId }).orderBy('domain')).map(claimFromRow);
  }

  async findVerified(domain: string): Promise<DomainClaimRecord | undefined> {
    const row = await this.db<ClaimRow>('domain_claims').where({ domain, status: 'verified' }).first();
    return row && claimFromRow(row);
  }

  /** findVerified of many domains in one read, by domain (a domain without a verified claim is absent). */
  async findVerifiedMany(domains: readonly string[]): Promise<Map<string, DomainClaimRecord>> {
    if (!domains.length) return new Map();
    const rows = await this.db<ClaimRow>('domain_claims').whereIn('domain', [...domains]).andWhere({ status: 'verified' });
    return new Map(rows.map((r) => [r.domain, claimFromRow(r)]));
  }

  async verifiedDomainsOf(organizationId: string): Promise<string[]> {
    return this.db<ClaimRow>('domain_claims').where({ organization_id: organizationId, status: 'verified' }).pluck('domain');
  }

  /**
   * Marks the claim verified and revokes any other organization's verified claim on the same domain,
   * in one transaction. Returns the claims it revoked.
   */
  async verify(id: string, now: number): Promise<DomainClaimRecord[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (trx) => {
          const claim = await trx<ClaimRow>('domain_claims').where({ id }).first();
          if (!claim) return [];
          const others = await trx<ClaimRow>('domain_claims').where({ domain: claim.domain, status: 'verified' }).whereNot({ id });
          if (others.length) {
            await trx<ClaimRow>('domain_claims')
              .whereIn('id', others.map((o) => o.id))
              .update({ status: 'revoked', revoked_at: now, revoked_reason: 'claimed-by-another-organization' });
          }
          await trx<ClaimRow>('domain_claims')
            .where({ id })
            .update({ status: 'verified', verified_at: now, revoked_at: null, revoked_reason: null, last_checked_at: now, consecutive_failures: 0 });
          return others.map((o) => claimFromRow({ ...o, status: 'revoked', revoked_at: now, revoked_reason: 'claimed-by-another-organization' }));
        });
      } catch (err) {
        // Two organizations verifying the same domain at once: the unique index stops the second; retry once.
        if (!isUniqueViolation(err) || attempt > 0) throw err;
      }
    }
  }

  async revoke(id: string, reason: string, now: number): Promise<void> {
    await this.db<ClaimRow>('domain_claims').where({ id }).update({ status: 'revoked', revoked_at: now, revoked_reason: reason });
  }

  /** Verified claims not checked since `before`. */
  async dueForCheck(before: number): Promise<DomainClaimRecord[]> {
    const rows = await this.db<ClaimRow>('domain_claims')
      .where({ status: 'verified' })
      .andWhere((q) => q.whereNull('last_checked_at').orWhere('last_checked_at', '<=', before));
    return rows.map(claimFromRow);
  }

  /** Takes the claim for one check (false when another node took it first). */
  async takeForCheck(id: string, before: number, now: number): Promise<boolean> {
    const taken = await this.db<ClaimRow>('domain_claims')
      .where({ id, status: 'verified' })
      .andWhere((q) => q.whereNull('last_checked_at').orWhere('last_checked_at', '<=', before))
      .update({ last_checked_at: now });
    return taken === 1;
  }

  /** Records a check's outcome; returns the number of consecutive failures now. */
  async recordCheck(id: string, ok: boolean): Promise<number> {
    if (ok) {
      await this.db<ClaimRow>('domain_claims').where({ id }).update({ consecutive_failures: 0 });
      return 0;
    }
    await this.db<ClaimRow>('domain_claims').where({ id }).increment('consecutive_failures', 1);
    const row = await this.db<ClaimRow>('domain_claims').where({ id }).first('consecutive_failures');
    return row?.consecutive_failures ?? 0;
  }
}
