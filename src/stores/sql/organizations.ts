import type { Db } from '../db.js';

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
}
