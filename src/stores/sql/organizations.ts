import type { Db } from '../db.js';
import { likeLiteral } from './memberships.js';

export interface OrganizationRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): OrganizationRecord => ({ id: r.id, name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });

export class OrganizationStore {
  constructor(private readonly db: Db) {}

  async create(o: OrganizationRecord): Promise<void> {
    await this.db<Row>('organizations').insert({ id: o.id, name: o.name, created_at: o.createdAt, updated_at: o.updatedAt });
  }

  async find(id: string): Promise<OrganizationRecord | undefined> {
    const row = await this.db<Row>('organizations').where({ id }).first();
    return row && toRecord(row);
  }

  /**
   * One page of organizations in name order (ties by id), keyset-paged: `afterId` is the last id of the
   * previous page. `q`: part of the name, ignoring case. `ids` narrows to those organizations.
   */
  async list(opts: { q?: string; ids?: string[]; afterId?: string; limit: number }): Promise<OrganizationRecord[]> {
    const q = this.db<Row>('organizations').orderBy([{ column: 'name' }, { column: 'id' }]).limit(opts.limit);
    if (opts.q) q.whereRaw("LOWER(name) LIKE ? ESCAPE '\\'", [`%${likeLiteral(opts.q.toLowerCase())}%`]);
    if (opts.ids) q.whereIn('id', opts.ids);
    if (opts.afterId) {
      const after = await this.find(opts.afterId);
      if (!after) return [];
      q.where((w) => w.where('name', '>', after.name).orWhere((x) => x.where('name', after.name).andWhere('id', '>', after.id)));
    }
    return (await q).map(toRecord);
  }
}
