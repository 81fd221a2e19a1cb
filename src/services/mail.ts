import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { isLocale, m, translator, type Locale, type Text } from '../i18n/index.js';
import type { OutboxStore } from '../stores/sql/outbox.js';
import { nowSeconds } from '../stores/db.js';
import type { Actor, RequestInfo } from './audit.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Who a mail goes to: the account's address and its stored language (AccountRecord.locale; null: none). */
export interface Recipient {
  email: string;
  locale: string | null;
}

/** A line of a mail: a text to translate ('' for an empty line), or one kept as it is (a link). */
export type MailLine = Text | { verbatim: string };

/** A mail before it is translated: its subject and the lines of its body. */
export interface MailContent {
  subject: Text;
  lines: MailLine[];
}

/** The line that says where a request came from, when its address is known (none otherwise). */
export function fromAddress(request: RequestInfo | undefined): Text[] {
  return request?.ip ? [m('This was done from the address {{ip}}.', { ip: request.ip })] : [];
}

/**
 * The language of a mail to an account: the one its owner last signed in with; else that of the request
 * that caused the mail, when the account's owner made it (a forgot-password form on a page in Vietnamese);
 * else DEFAULT_LOCALE. A request by anyone else (an administrator) never chooses: its language is theirs.
 */
export function mailLocale(recipient: Recipient, ownersRequest: RequestInfo | undefined, defaultLocale: Locale): Locale {
  if (isLocale(recipient.locale)) return recipient.locale;
  return ownersRequest?.locale ?? defaultLocale;
}

/** The request, when the actor making it is the account's owner (see mailLocale); otherwise undefined. */
export function ownersRequest(account: { id: string }, actor: Actor, request: RequestInfo | undefined): RequestInfo | undefined {
  return actor.type === 'user' && actor.id === account.id ? request : undefined;
}

/**
 * Outgoing mail: over SMTP when SMTP_URL is set, otherwise into the development outbox
 * (`npx gatehouse outbox` reads it). Delivery failures are logged, never shown to the person who
 * triggered the mail (a forgot-password answer must not depend on the mail server).
 */
export class MailService {
  private readonly transport?: Transporter;

  constructor(
    private readonly options: { smtpUrl?: string; from: string; defaultLocale: Locale },
    private readonly outbox: OutboxStore,
    private readonly logger?: Logger,
  ) {
    if (options.smtpUrl) this.transport = nodemailer.createTransport(options.smtpUrl);
  }

  get kind(): 'smtp' | 'outbox' {
    return this.transport ? 'smtp' : 'outbox';
  }

  /**
   * Sends a mail to an account in its language (mailLocale): every Text translated, dates written in UTC
   * saying so (the server does not know the reader's time zone). `ownersRequest`: the request that caused
   * the mail, only when the account's owner made it.
   */
  sendTo(recipient: Recipient, content: MailContent, ownersRequest?: RequestInfo): Promise<boolean> {
    return this.translated(recipient, content, ownersRequest, '');
  }

  /** A security notice (a factor added or removed): sendTo with "Gatehouse: " before the subject. */
  notify(recipient: Recipient, subject: Text, lines: MailLine[], ownersRequest?: RequestInfo): Promise<boolean> {
    return this.translated(recipient, { subject, lines }, ownersRequest, 'Gatehouse: ');
  }

  private translated(recipient: Recipient, content: MailContent, ownersRequest: RequestInfo | undefined, prefix: string): Promise<boolean> {
    const tr = translator(mailLocale(recipient, ownersRequest, this.options.defaultLocale));
    const text = content.lines.map((line) => (line === '' ? '' : typeof line === 'object' && 'verbatim' in line ? line.verbatim : tr.text(line))).join('\n');
    return this.send({ to: recipient.email, subject: prefix + tr.text(content.subject), text });
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
