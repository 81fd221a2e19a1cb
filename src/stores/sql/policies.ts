import type { Db } from '../db.js';
import { claimFromRow, type ClaimRow, type DomainClaimRecord } from './domain-claims.js';

/** The subject under which the platform's baseline policy is stored. */
export const BASELINE_SUBJECT = 'baseline';

/** A stored policy document as written: its JSON text and the schema version of its shape (src/policy/policy-documents). */
export interface StoredPolicy {
  subject: string;
  text: string;
  version: number;
}

/** Stored policy documents, by subject: an organization id, or 'baseline'. Never deleted. */
/** What decides which policy governs an address: its domain's verified claim, that organization's stored policy and the baseline's. */
export interface GoverningDocuments {
  claim: DomainClaimRecord | undefined;
  organization: StoredPolicy | undefined;
  baseline: StoredPolicy | undefined;
}

export class PolicyStore {
  constructor(private readonly db: Db) {}

  /**
   * The domain's verified claim with its organization's policy and the baseline, in one statement (read
   * on every sign-in, token and userinfo request; never cached). A domain has at most one verified claim
   * (verifying one revokes the others in the same transaction).
   */
  async governing(domain: string): Promise<GoverningDocuments> {
    const row = await this.db
      .select('c.*', 'o.policy as o_policy', 'o.schema_version as o_version', 'b.policy as b_policy', 'b.schema_version as b_version')
      .from(this.db.raw('(select 1 as one) as x'))
      .leftJoin('domain_claims as c', (on) => on.on('c.domain', '=', this.db.raw('?', [domain])).andOn('c.status', '=', this.db.raw('?', ['verified'])))
      .leftJoin('security_policies as o', 'o.subject', 'c.organization_id')
      .leftJoin('security_policies as b', 'b.subject', this.db.raw('?', [BASELINE_SUBJECT]))
      .first();
    const stored = (subject: string | null, text: unknown, version: unknown) =>
      subject !== null && typeof text === 'string' ? toStored({ subject, policy: text, schema_version: version }) : undefined;
    const claim = row?.id ? claimFromRow(row as ClaimRow) : undefined;
    return {
      claim,
      organization: claim ? stored(claim.organizationId, row.o_policy, row.o_version) : undefined,
      baseline: stored(BASELINE_SUBJECT, row?.b_policy, row?.b_version),
    };
  }

  async get(subject: string): Promise<StoredPolicy | undefined> {
    const row = await this.db('security_policies').where({ subject }).first('subject', 'policy', 'schema_version');
    return row ? toStored(row) : undefined;
  }

  /** get of many subjects in one read, by subject (one without a document is absent). */
  async getMany(subjects: readonly string[]): Promise<Map<string, StoredPolicy>> {
    if (!subjects.length) return new Map();
    const rows = await this.db('security_policies').whereIn('subject', [...subjects]).select('subject', 'policy', 'schema_version');
    return new Map(rows.map((r) => [r.subject as string, toStored(r)]));
  }

  /** Every stored document, for the start-up check. */
  async all(): Promise<StoredPolicy[]> {
    return (await this.db('security_policies').select('subject', 'policy', 'schema_version').orderBy('subject')).map(toStored);
  }

  async put(subject: string, policy: unknown, version: number, updatedBy: string, now: number): Promise<void> {
    await this.db('security_policies')
      .insert({ subject, policy: JSON.stringify(policy), schema_version: version, updated_at: now, updated_by: updatedBy })
      .onConflict('subject')
      .merge();
  }
}

const toStored = (row: Record<string, unknown>): StoredPolicy => ({
  subject: row.subject as string,
  text: row.policy as string,
  version: Number(row.schema_version),
});

/**
 * Rewrites every stored document that `upgrade` can bring to the current shape, with its new version.
 * For migrations: documents it cannot read are left as they are, for the start-up check to name.
 */
export async function upgradeStoredPolicies(
  db: Db,
  upgrade: (document: unknown, version: number) => { ok: true; document: unknown; version: number } | { ok: false },
): Promise<number> {
  let upgraded = 0;
  for (const row of await db('security_policies').select('subject', 'policy', 'schema_version')) {
    const stored = toStored(row);
    let parsed: unknown;
    try {
      parsed = JSON.parse(stored.text);
    } catch {
      continue;
    }
    const result = upgrade(parsed, stored.version);
    if (!result.ok || result.version === stored.version) continue;
    await db('security_policies')
      .where({ subject: stored.subject, schema_version: stored.version })
      .update({ policy: JSON.stringify(result.document), schema_version: result.version });
    upgraded++;
  }
  return upgraded;
}
