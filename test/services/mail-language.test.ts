import { m } from '../../src/i18n/index.js';
import { MailService, mailLocale, ownersRequest } from '../../src/services/mail.js';
import type { RequestInfo } from '../../src/services/audit.js';
import { OutboxStore } from '../../src/stores/sql/outbox.js';
import { migratedDb, testBackend } from '../helpers/backend.js';

/**
 * Which language a mail is written in (mailLocale), and how MailService writes it: every text translated,
 * dates in UTC saying so, links as they are. Into the development outbox (no SMTP_URL), read back.
 */
const fromVietnamesePage: RequestInfo = { ip: '203.0.113.9', userAgent: null, locale: 'vi' };

describe('the language of a mail', () => {
  it.each([
    ['the stored language first', 'vi', 'en', 'en', 'vi'],
    ['the stored language over the default', 'en', undefined, 'vi', 'en'],
    ["else the owner's own request", null, 'vi', 'en', 'vi'],
    ['else the default', null, undefined, 'vi', 'vi'],
    ['a stored language Gatehouse no longer has counts as none', 'fr', undefined, 'vi', 'vi'],
  ] as const)('%s', (_what, stored, requestLocale, defaultLocale, expected) => {
    const request = requestLocale ? { ip: null, userAgent: null, locale: requestLocale } : undefined;
    expect(mailLocale({ email: 'a@example.net', locale: stored }, request, defaultLocale)).toBe(expected);
  });

  it("takes a request's language only when the account's owner made it", () => {
    const account = { id: 'owner' };
    expect(ownersRequest(account, { type: 'user', id: 'owner' }, fromVietnamesePage)).toBe(fromVietnamesePage);
    expect(ownersRequest(account, { type: 'user', id: 'an-admin' }, fromVietnamesePage)).toBeUndefined();
    expect(ownersRequest(account, { type: 'client', id: 'owner' }, fromVietnamesePage)).toBeUndefined();
    expect(ownersRequest(account, { type: 'system', id: 'job' }, fromVietnamesePage)).toBeUndefined();
  });
});

describe('MailService writes in that language', () => {
  const database = migratedDb(() => testBackend({ embedded: true }));
  let outbox: OutboxStore;
  const mailer = (defaultLocale: 'en' | 'vi') => new MailService({ from: 'gatehouse@example.net', defaultLocale }, outbox);
  const last = async (to: string) => (await outbox.latest(1, to))[0]!;

  beforeAll(() => {
    outbox = new OutboxStore(database());
  });

  it('a notice: subject after "Gatehouse: ", values and the date (UTC, saying so) put in, empty lines kept', async () => {
    const when = new Date(Date.UTC(2026, 11, 9, 14, 5));
    const lines = [m('The passkey "{{label}}" was removed from {{email}} on {{when}}.', { label: 'Key', email: 'b@example.net', when }), '', m('It can no longer be used to sign in.')];
    expect(await mailer('en').notify({ email: 'b@example.net', locale: 'vi' }, m('A passkey was removed'), lines)).toBe(true);
    const vi = await last('b@example.net');
    expect(vi.subject).toBe('Gatehouse: Một khóa truy cập (passkey) đã bị gỡ bỏ');
    expect(vi.text.split('\n')).toEqual([
      `Khóa truy cập "Key" đã bị gỡ khỏi tài khoản b@example.net lúc ${new Intl.DateTimeFormat('vi', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(when)} UTC.`,
      '',
      'Khóa này không còn dùng được để đăng nhập nữa.',
    ]);
    await mailer('vi').notify({ email: 'c@example.net', locale: 'en' }, m('A passkey was removed'), lines);
    expect((await last('c@example.net')).text).toContain('was removed from b@example.net on Dec 9, 2026, 2:05 PM UTC.');
  });

  it("a verbatim line stays as it is; counts take the language's plural", async () => {
    const link = 'https://id.example/password/reset?token=abc';
    const content = { subject: m('Reset your Gatehouse password'), lines: [m('Choose a new password here (the link works once, for {{count}} minutes):', { count: 1 }), { verbatim: link }] };
    await mailer('en').sendTo({ email: 'd@example.net', locale: null }, content);
    expect((await last('d@example.net')).text).toBe(`Choose a new password here (the link works once, for 1 minute):\n${link}`);
    await mailer('en').sendTo({ email: 'e@example.net', locale: null }, content, fromVietnamesePage);
    expect(await last('e@example.net')).toMatchObject({ subject: 'Đặt lại mật khẩu Gatehouse của bạn', text: `Hãy chọn mật khẩu mới tại đây (liên kết chỉ dùng được một lần, trong 1 phút):\n${link}` });
  });
});
