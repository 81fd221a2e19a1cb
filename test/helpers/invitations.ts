import type { AdminHarness } from './admin.js';
import type { ReceivedMail } from './smtp.js';

export const invitationLinkIn = (mail: ReceivedMail): string => {
  const link = /https?:\/\/\S+\/invitation\?token=[\w-]+/.exec(mail.text)?.[0];
  if (!link) throw new Error(`no invitation link in: ${mail.text}`);
  return link;
};

/** Invites a user through the admin API and returns the user's id and the link from the delivered mail. */
export async function inviteThroughApi(h: AdminHarness, body: Record<string, unknown>): Promise<{ id: string; link: string; user: Record<string, unknown> }> {
  const before = h.smtp.received.length;
  const res = await h.api('POST', '/users', { invite: true, ...body });
  if (res.status !== 201) throw new Error(`invite answered ${res.status}: ${JSON.stringify(res.body)}`);
  const mail = await h.smtp.waitFor((m) => m.to === res.body.email && m.subject.includes('invited'), before);
  return { id: res.body.id, link: invitationLinkIn(mail), user: res.body };
}
