import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { challengeName, normalizeDomain, txtRecordsMatch } from '../policy/domains.js';
import type { DomainClaimRecord, DomainClaimStore } from '../stores/sql/domain-claims.js';
import { nowSeconds } from '../stores/db.js';
import { SYSTEM, type Actor, type AuditService, type RequestInfo } from './audit.js';
import type { DnsTxtResolver } from './dns.js';
import { NO_METRICS, type Metrics } from '../observability/metrics.js';
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from './errors.js';
import { m } from '../i18n/message.js';

export interface DomainClaimView {
  domain: string;
  status: DomainClaimRecord['status'];
  verification: { type: 'dns-txt'; name: string; value: string };
  createdAt: string;
  verifiedAt: string | null;
  revokedAt: string | null;
  revokedReason: string | null;
  lastCheckedAt: string | null;
}

const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());

export const claimView = (c: DomainClaimRecord): DomainClaimView => ({
  domain: c.domain,
  status: c.status,
  verification: { type: 'dns-txt', name: challengeName(c.domain), value: c.token },
  createdAt: iso(c.createdAt)!,
  verifiedAt: iso(c.verifiedAt),
  revokedAt: iso(c.revokedAt),
  revokedReason: c.revokedReason,
  lastCheckedAt: iso(c.lastCheckedAt),
});

/**
 * Domain claims: pending → verified (DNS TXT proof) → revoked. A verified domain belongs to one
 * organization; proving it from another revokes the earlier claim. Nothing is ever deleted.
 */
/**
 * A failed DNS check; `outcome` (not part of the API's problem document) lets a page say what was found:
 * no record, a record with another value, no answer in time, or a DNS error.
 */
export class DomainVerificationFailed extends UnprocessableError {
  constructor(
    message: string,
    details: Record<string, unknown>,
    readonly outcome: 'not-found' | 'other-value' | 'timeout' | 'error',
  ) {
    super(message, details);
  }
}

export class DomainService {
  constructor(
    private readonly claims: DomainClaimStore,
    private readonly dns: DnsTxtResolver,
    private readonly audit: AuditService,
    private readonly options: { reverifyIntervalSeconds: number; reverifyMaxFailures: number },
    private readonly logger?: Logger,
    private readonly metrics: Metrics = NO_METRICS,
  ) {}

  private static normalize(input: unknown): string {
    const domain = typeof input === 'string' ? normalizeDomain(input) : null;
    if (!domain) throw new ValidationError([{ field: 'domain', message: 'must be a domain name such as example.com' }]);
    return domain;
  }

  private async claim(organizationId: string, domainInput: string): Promise<DomainClaimRecord> {
    const domain = normalizeDomain(domainInput);
    const claim = domain ? await this.claims.find(organizationId, domain) : undefined;
    if (!claim) throw new NotFoundError('domain claim');
    return claim;
  }

  async add(organizationId: string, domainInput: unknown, actor: Actor, request?: RequestInfo): Promise<DomainClaimView> {
    const domain = DomainService.normalize(domainInput);
    const token = randomBytes(24).toString('base64url');
    const now = nowSeconds();
    const existing = await this.claims.find(organizationId, domain);
    if (existing && existing.status !== 'revoked') throw new ConflictError(`the organization already claims ${domain} (${existing.status})`, m('Your organization already claims {{domain}}.', { domain }));
    if (existing) await this.claims.reopen(existing.id, token, now);
    else {
      await this.claims.insert({
        id: randomUUID(),
        organizationId,
        domain,
        status: 'pending',
        token,
        createdAt: now,
        verifiedAt: null,
        revokedAt: null,
        revokedReason: null,
        lastCheckedAt: null,
        consecutiveFailures: 0,
      });
    }
    await this.audit.record('domain.added', { actor, organizationId, target: { type: 'domain', id: domain }, request, data: { after: { status: 'pending' } } });
    return claimView((await this.claims.find(organizationId, domain))!);
  }

  async list(organizationId: string): Promise<DomainClaimView[]> {
    return (await this.claims.listByOrganization(organizationId)).map(claimView);
  }

  /**
   * Checks the TXT record and marks the claim verified. `force` (platform admins) skips DNS.
   * A failed check leaves the claim as it was and explains what was expected.
   */
  async verify(organizationId: string, domainInput: string, options: { force: boolean }, actor: Actor, request?: RequestInfo): Promise<DomainClaimView> {
    const claim = await this.claim(organizationId, domainInput);
    if (claim.status === 'verified') return claimView(claim);
    if (!options.force) {
      const result = await this.dns.lookup(challengeName(claim.domain));
      if (!result.ok || !txtRecordsMatch(result.records, claim.token)) {
        await this.audit.record('domain.verification_failed', {
          actor,
          organizationId,
          target: { type: 'domain', id: claim.domain },
          request,
          data: { reason: result.ok ? 'no-matching-record' : result.reason },
        });
        throw new DomainVerificationFailed(
          result.ok ? `no TXT record at ${challengeName(claim.domain)} matches the claim's value` : result.detail,
          { expected: { type: 'dns-txt', name: challengeName(claim.domain), value: claim.token } },
          result.ok ? (result.records.length ? 'other-value' : 'not-found') : result.reason,
        );
      }
    }
    const superseded = await this.claims.verify(claim.id, nowSeconds());
    for (const other of superseded) {
      // In the losing organization's trail: who took the domain, from where, and for which organization
      // is the other organization's business, so Gatehouse is the actor (the winner's trail has the details).
      await this.audit.record('domain.revoked', {
        actor: SYSTEM('domain-verification'),
        organizationId: other.organizationId,
        target: { type: 'domain', id: other.domain },
        data: { before: { status: 'verified' }, after: { status: 'revoked' }, reason: 'claimed-by-another-organization' },
      });
    }
    await this.audit.record('domain.verified', {
      actor,
      organizationId,
      target: { type: 'domain', id: claim.domain },
      request,
      data: { before: { status: claim.status }, after: { status: 'verified' }, method: options.force ? 'manual' : 'dns-txt' },
    });
    return claimView((await this.claims.find(organizationId, claim.domain))!);
  }

  async revoke(organizationId: string, domainInput: string, reason: string, actor: Actor, request?: RequestInfo): Promise<DomainClaimView> {
    const claim = await this.claim(organizationId, domainInput);
    if (claim.status !== 'revoked') {
      await this.claims.revoke(claim.id, reason, nowSeconds());
      await this.audit.record('domain.revoked', {
        actor,
        organizationId,
        target: { type: 'domain', id: claim.domain },
        request,
        data: { before: { status: claim.status }, after: { status: 'revoked' }, reason },
      });
    }
    return claimView((await this.claims.find(organizationId, claim.domain))!);
  }

  /**
   * Re-verifies every verified claim not checked for an interval; a claim that fails
   * `reverifyMaxFailures` times in a row is revoked. Safe on several nodes: each claim is taken
   * for a check by one node only.
   */
  async reverifyDue(): Promise<{ checked: number; revoked: string[] }> {
    const now = nowSeconds();
    const before = now - this.options.reverifyIntervalSeconds;
    const revoked: string[] = [];
    let checked = 0;
    for (const claim of await this.claims.dueForCheck(before)) {
      if (!(await this.claims.takeForCheck(claim.id, before, now))) continue;
      checked++;
      const result = await this.dns.lookup(challengeName(claim.domain));
      const ok = result.ok && txtRecordsMatch(result.records, claim.token);
      const failures = await this.claims.recordCheck(claim.id, ok);
      if (!ok && failures >= this.options.reverifyMaxFailures) {
        await this.claims.revoke(claim.id, 'reverification-failed', nowSeconds());
        revoked.push(claim.domain);
        await this.audit.record('domain.revoked', {
          actor: SYSTEM('domain-reverification'),
          organizationId: claim.organizationId,
          target: { type: 'domain', id: claim.domain },
          data: { before: { status: 'verified' }, after: { status: 'revoked' }, reason: 'reverification-failed', failures },
        });
        this.metrics.domainReverification('revoked');
      } else if (!ok) {
        this.logger?.warn({ domain: claim.domain, failures }, 'domain re-verification failed');
        this.metrics.domainReverification('failed');
      } else {
        this.metrics.domainReverification('verified');
      }
    }
    return { checked, revoked };
  }
}
