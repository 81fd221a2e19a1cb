import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { OutboxStore } from '../stores/sql/outbox.js';
import { nowSeconds } from '../stores/db.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Outgoing mail: over SMTP when SMTP_URL is set, otherwise into the development outbox
 * (`npx gatehouse outbox` reads it). Delivery failures are logged, never shown to the person who
 * triggered the mail (a forgot-password answer must not depend on the mail server).
 */
export class MailService {
  private readonly transport?: Transporter;

  constructor(
    private readonly options: { smtpUrl?: string; from: string },
    private readonly outbox: OutboxStore,
    private readonly logger?: Logger,
  ) {
    if (options.smtpUrl) this.transport = nodemailer.createTransport(options.smtpUrl);
  }

  get kind(): 'smtp' | 'outbox' {
    return this.transport ? 'smtp' : 'outbox';
  }

  async send(mail: Mail): Promise<boolean> {
    try {
      if (this.transport) await this.transport.sendMail({ from: this.options.from, ...mail });
      else await this.outbox.add({ ...mail, createdAt: nowSeconds() });
      return true;
    } catch (err) {
      this.logger?.error({ err: (err as Error).message, subject: mail.subject }, 'sending mail failed');
      return false;
    }
  }

  close(): void {
    this.transport?.close();
  }
}
