import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
}

/** A real SMTP server on loopback that keeps what it receives, for tests that read delivered mail. */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, _session, callback) => {
      simpleParser(stream).then(
        (mail) => {
          const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
          this.received.push({ to: to?.value[0]?.address ?? '', subject: mail.subject ?? '', text: mail.text ?? '' });
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  url = '';

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Waits (up to `ms`) for a message matching `match` that arrived after `since` messages. */
  async waitFor(match: (m: ReceivedMail) => boolean, since = 0, ms = 5000): Promise<ReceivedMail> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.received.slice(since).find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching mail after ${ms} ms; received: ${JSON.stringify(this.received.map((m) => [m.to, m.subject]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The messages to `to` so far. */
  to(to: string): ReceivedMail[] {
    return this.received.filter((m) => m.to === to);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export const resetLinkIn = (mail: ReceivedMail): string => {
  const link = /https?:\/\/\S+\/password\/reset\?token=[\w-]+/.exec(mail.text)?.[0];
  if (!link) throw new Error(`no reset link in: ${mail.text}`);
  return link;
};
