import type { Db } from '../db.js';

export interface OutboxMessage {
  id: number;
  to: string;
  subject: string;
  text: string;
  createdAt: number;
}

/** The development mail outbox: where mail goes when no SMTP server is configured. */
export class OutboxStore {
  constructor(private readonly db: Db) {}

  async add(m: Omit<OutboxMessage, 'id'>): Promise<void> {
    await this.db('mail_outbox').insert({ to: m.to, subject: m.subject, text: m.text, created_at: m.createdAt });
  }

  async latest(limit: number, to?: string): Promise<OutboxMessage[]> {
    const q = this.db('mail_outbox').orderBy('id', 'desc').limit(limit);
    if (to) q.where({ to });
    return (await q).map((r) => ({ id: Number(r.id), to: r.to, subject: r.subject, text: r.text, createdAt: Number(r.created_at) }));
  }
}
