import type { Db } from '../db.js';

/** A stored policy document as written: its JSON text and the schema version of its shape (src/policy/policy-documents). */
export interface StoredPolicy {
  subject: string;
  text: string;
  version: number;
}

/** Stored policy documents, by subject: an organization id, or 'baseline'. Never deleted. */
export class PolicyStore {
  constructor(private readonly db: Db) {}

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
