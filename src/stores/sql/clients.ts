import type { Db } from '../db.js';
import { DuplicateError, isUniqueViolation } from './accounts.js';

export type SessionType = 'web' | 'mobile' | 'desktop';

export interface ClientRecord {
  clientId: string;
  clientName: string;
  sessionType: SessionType;
  firstParty: boolean;
  /** oidc-provider client metadata (snake_case), as handed to the provider. */
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  client_id: string;
  client_name: string;
  session_type: SessionType;
  first_party: boolean | number;
  metadata: string;
  created_at: number;
  updated_at: number;
}

const toRow = (c: ClientRecord): Row => ({
  client_id: c.clientId,
  client_name: c.clientName,
  session_type: c.sessionType,
  first_party: c.firstParty,
  metadata: JSON.stringify(c.metadata),
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

const toRecord = (r: Row): ClientRecord => ({
  clientId: r.client_id,
  clientName: r.client_name,
  sessionType: r.session_type,
  firstParty: Boolean(r.first_party),
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class ClientStore {
  constructor(private readonly db: Db) {}

  async create(c: ClientRecord): Promise<void> {
    try {
      await this.db<Row>('clients').insert(toRow(c));
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError('a client with this client_id');
      throw err;
    }
  }

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const row = await this.db<Row>('clients').where({ client_id: clientId }).first();
    return row && toRecord(row);
  }

  /** Inserts or replaces a client (the bootstrap client, kept in step with its environment variables). */
  async upsert(c: ClientRecord): Promise<void> {
    await this.db<Row>('clients')
      .insert(toRow(c))
      .onConflict('client_id')
      .merge(['client_name', 'session_type', 'first_party', 'metadata', 'updated_at']);
  }

  /**
   * Replaces the client only if it is still stored as `previous` (the same metadata text): one
   * conditional UPDATE, so a change made meanwhile (a secret rotated, the client deleted) is never
   * undone by a write built from what was read before it. False when the client had changed or gone.
   */
  async replace(next: ClientRecord, previous: ClientRecord): Promise<boolean> {
    const { client_id: _id, created_at: _created, ...changes } = toRow(next);
    const changed = await this.db<Row>('clients').where({ client_id: previous.clientId, metadata: JSON.stringify(previous.metadata) }).update(changes);
    return changed === 1;
  }

  async remove(clientId: string): Promise<boolean> {
    return (await this.db<Row>('clients').where({ client_id: clientId }).delete()) === 1;
  }

  /** One page of clients in client_id order, keyset-paged: `afterId` is the last client_id of the previous page. */
  async list(opts: { afterId?: string; limit: number }): Promise<ClientRecord[]> {
    const q = this.db<Row>('clients').orderBy('client_id').limit(opts.limit);
    if (opts.afterId) q.where('client_id', '>', opts.afterId);
    return (await q).map(toRecord);
  }
}
