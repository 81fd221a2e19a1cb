import type { Db } from '../db.js';
import type { Knex } from 'knex';
import { claimFromRow, type ClaimRow, type DomainClaimRecord } from './domain-claims.js';
import { toRecord as accountFromRow, type AccountRecord, type Row as AccountRow } from './accounts.js';

/** A claim row's columns (every one: the type checks), selected with a `c_` prefix beside an account's, which has columns of the same names. */
const CLAIM_COLUMN_SET: Record<keyof ClaimRow, true> = {
  id: true,
  organization_id: true,
  domain: true,
  status: true,
  token: true,
  created_at: true,
  verified_at: true,
  revoked_at: true,
  revoked_reason: true,
  last_checked_at: true,
  consecutive_failures: true,
};
const CLAIM_COLUMNS = Object.keys(CLAIM_COLUMN_SET) as Array<keyof ClaimRow>;

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

  /** The columns of a claim and both policies, for a statement joining them (see governingJoins). */
  private governingColumns() {
    return [
      ...CLAIM_COLUMNS.map((c) => `c.${c} as c_${c}`),
      'o.policy as o_policy',
      'o.schema_version as o_version',
      'b.policy as b_policy',
      'b.schema_version as b_version',
    ];
  }

  /** Joins, onto `domain` (a column or a bound value), its verified claim, that organization's policy and the baseline. */
  private governingJoins(query: Knex.QueryBuilder, domain: Knex.Raw | string): Knex.QueryBuilder {
    return query
      .leftJoin('domain_claims as c', (on) => on.on('c.domain', '=', domain as string).andOn('c.status', '=', this.db.raw('?', ['verified'])))
      .leftJoin('security_policies as o', 'o.subject', 'c.organization_id')
      .leftJoin('security_policies as b', 'b.subject', this.db.raw('?', [BASELINE_SUBJECT]));
  }

  private static governingOf(row: Record<string, unknown> | undefined): GoverningDocuments {
    const stored = (subject: string | null, text: unknown, version: unknown) =>
      subject !== null && typeof text === 'string' ? toStored({ subject, policy: text, schema_version: version }) : undefined;
    const claim = row?.c_id ? claimFromRow(Object.fromEntries(CLAIM_COLUMNS.map((c) => [c, row[`c_${c}`]])) as unknown as ClaimRow) : undefined;
    return {
      claim,
      organization: claim ? stored(claim.organizationId, row!.o_policy, row!.o_version) : undefined,
      baseline: stored(BASELINE_SUBJECT, row?.b_policy, row?.b_version),
    };
  }

  /**
   * The domain's verified claim with its organization's policy and the baseline, in one statement (read
   * on every sign-in, token and userinfo request; never cached). A domain has at most one verified claim
   * (verifying one revokes the others in the same transaction).
   */
  async governing(domain: string): Promise<GoverningDocuments> {
    const query = this.db.select(this.governingColumns()).from(this.db.raw('(select 1 as one) as x'));
    return PolicyStore.governingOf(await this.governingJoins(query, this.db.raw('?', [domain]) as unknown as Knex.Raw).first());
  }

  /**
   * An account with what governs its email domain (as `governing`), in one statement: what findAccount
   * needs on every token, userinfo and sign-in request. `domain` is the account's stored email domain.
   */
  async accountWithGoverning(accountId: string): Promise<{ account: AccountRecord; domain: string; governing: GoverningDocuments } | undefined> {
    const query = this.db.select('a.*', ...this.governingColumns()).from('accounts as a').where('a.id', accountId);
    const row = await this.governingJoins(query, 'a.email_domain').first();
    if (!row) return undefined;
    return { account: accountFromRow(row as AccountRow), domain: (row as AccountRow).email_domain, governing: PolicyStore.governingOf(row) };
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
