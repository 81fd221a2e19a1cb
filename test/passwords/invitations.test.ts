/**
 * Item 17: admins create users without a password; Gatehouse mails an invitation link (single use,
 * expiring, stored as a digest) whose page sets a password under the governing policy and verifies the
 * email. Until then the account cannot sign in, and says so exactly as a wrong password does.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'node-html-parser';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { invitationLinkIn, inviteThroughApi } from '../helpers/invitations.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { adminResetLink, forgotPasswordLink, pageOf, resetThroughLink, submitNewPassword, type Attempt } from '../helpers/password-flows.js';

const GENERIC = 'Incorrect email or password.';
const BAD_LINK = 'This invitation link is invalid, has expired or was already used. Ask your administrator for a new one.';
const CLI = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '1000' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = (await h.api('POST', '/organizations', { name: 'Acme' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'acme.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.acme.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/acme.example/verify`)).status).toBe(200);
  const policy = { password: { minLength: 12, requireUppercase: true, requireNumber: true, requireSpecial: true, minAgeHours: 24 } };
  expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy })).status).toBe(200);
});
afterAll(() => h.stop());

const email = () => `invitee${++n}@acme.example`;

/** Opens an invitation link in a fresh browser; the set-password form, or the error page. */
async function open(link: string): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  return { browser, page: await browser.page(link) };
}

async function acceptThrough(link: string, password: string): Promise<Attempt> {
  const { browser, page } = await open(link);
  if (page.status !== 200) return { accepted: false, errors: [page.doc.querySelector('.lead')?.text.trim() ?? `status ${page.status}`] };
  return submitNewPassword(browser, page, 'form[action="/invitation"]', password);
}

/** The sign-in page's answer to an email and password. */
async function signInAnswer(address: string, password: string) {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email: address, password });
  const html = await res.text();
  return { status: res.status, errors: errorsOn({ ...loginPage, html, doc: parse(html) }) };
}

describe('inviting a user', () => {
  it('mails a link from ISSUER; its page refuses a policy-violating password listing every broken rule, then sets one, verifies the email, and the ID token says so', async () => {
    const address = email();
    const before = h.smtp.received.length;
    const res = await h.api('POST', '/users', { email: address, name: 'Nia Longfellow', organizationId: orgId, invite: true }, h.platformToken);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: address, status: 'active', organizationId: orgId, emailVerified: false });
    const mail = await h.smtp.waitFor((m) => m.to === address && m.subject === 'You are invited to Gatehouse', before);
    const link = invitationLinkIn(mail);
    expect(link.startsWith(`${h.running.issuer}/invitation?token=`)).toBe(true);
    expect(mail.text).toContain('for 72 hours');

    // The token is kept only as a digest, with the configured lifetime.
    const row = await h.app.services.db('password_reset_tokens').where({ account_id: res.body.id }).first();
    expect(row.purpose).toBe('invitation');
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(link).not.toContain(row.token_hash);
    expect(Number(row.expires_at) - Number(row.created_at)).toBe(72 * 3600);

    const { browser, page } = await open(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.doc.querySelectorAll('#password-rules li').map((li) => li.text.trim())).toEqual(
      expect.arrayContaining([expect.stringMatching(/^12 to \d+ characters$/), 'an uppercase letter (A–Z)', 'a number (0–9)']),
    );
    expect(await submitNewPassword(browser, page, 'form[action="/invitation"]', 'longfellow')).toEqual({
      accepted: false,
      errors: [
        'Use at least 12 characters.',
        'Include an uppercase letter (A–Z).',
        'Include a number (0–9).',
        'Include a symbol (any character that is not a letter or digit).',
        'Do not use your email address or name in your password.',
      ],
    });
    // A refused password leaves the link usable; the minimum age does not apply to a first password.
    const done = await browser.submit(page, 'form[action="/invitation"]', { newPassword: 'Welcome-Aboard-7', confirmPassword: 'Welcome-Aboard-7' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('your email address is confirmed');

    const { tokens } = await signIn(new Browser(), web, address, 'Welcome-Aboard-7', { scope: 'openid email profile' });
    expect(tokens.claims()).toMatchObject({ sub: res.body.id, email: address, email_verified: true, name: 'Nia Longfellow' });
    expect((await h.api('GET', `/users/${res.body.id}`)).body.emailVerified).toBe(true);

    const trail = (await h.api('GET', `/organizations/${orgId}/events?limit=50`)).body.items.filter((e: { targetId: string }) => e.targetId === res.body.id);
    expect(trail.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['user.invited', 'user.created', 'password.changed', 'user.email_verified']));
    expect(trail.find((e: { type: string }) => e.type === 'password.changed').data).toMatchObject({ kind: 'invitation' });
    expect(trail.find((e: { type: string }) => e.type === 'user.email_verified').data).toEqual({ via: 'invitation' });
    // No "your password was changed" warning for a first password.
    expect(h.smtp.to(address).map((m) => m.subject)).toEqual(['You are invited to Gatehouse']);
  });

  it('the invited user cannot sign in before accepting: the answer is the wrong-password answer, even for the stored placeholder', async () => {
    const { id } = await inviteThroughApi(h, { email: email() });
    const invited = (await h.api('GET', `/users/${id}`)).body.email as string;
    const known = await h.api('POST', '/users', { email: email(), password: 'Known-Pass-123!' });
    expect(known.status).toBe(201);
    const wrong = await signInAnswer(known.body.email, 'Wrong-Pass-123!');
    expect(wrong).toEqual({ status: 401, errors: [GENERIC] });
    const stored = (await h.app.services.db('accounts').where({ id }).first()).password_hash as string;
    expect(stored.startsWith('$argon2')).toBe(false);
    for (const attempt of ['Any-Pass-123!', stored]) expect(await signInAnswer(invited, attempt)).toEqual(wrong);
    // Nothing is kept in the password history for an account that never had a password.
    expect(await h.app.services.db('password_history').where({ account_id: id })).toEqual([]);
  });

  it('a link works once: of five simultaneous submissions exactly one wins, and the link is dead afterwards', async () => {
    const { id, link } = await inviteThroughApi(h, { email: email() });
    const address = (await h.api('GET', `/users/${id}`)).body.email as string;
    const { browser, page } = await open(link);
    const candidates = [0, 1, 2, 3, 4].map((i) => `Race-Winner-${i}!x`);
    const answers = await Promise.all(
      candidates.map((p) => browser.submit(page, 'form[action="/invitation"]', { newPassword: p, confirmPassword: p })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(4);
    const winner = candidates[statuses.indexOf(200)]!;
    for (const a of answers) {
      const answer = await pageOf(a, link);
      if (a.status === 400) expect(answer.doc.querySelector('.lead')?.text.trim()).toBe(BAD_LINK);
    }
    // Used: neither the page nor another submission works any more.
    expect((await open(link)).page.status).toBe(400);
    expect(await acceptThrough(link, 'Another-Pass-9!')).toEqual({ accepted: false, errors: [BAD_LINK] });
    const used = await h.app.services.db('password_reset_tokens').where({ account_id: id, purpose: 'invitation' });
    expect(used).toHaveLength(1);
    expect(used[0].used_at).not.toBeNull();
    // The winner's password is the one that works.
    await signIn(new Browser(), web, address, winner);
    for (const loser of candidates.filter((c) => c !== winner)) expect((await signInAnswer(address, loser)).status).toBe(401);
  });

  it('an expired link is refused; a reset link sent by the admin then lets the user in and verifies the email', async () => {
    const { id, link } = await inviteThroughApi(h, { email: email() });
    const address = (await h.api('GET', `/users/${id}`)).body.email as string;
    const { browser, page } = await open(link); // opened in time...
    await h.app.services.db('password_reset_tokens').where({ account_id: id }).update({ expires_at: Math.floor(Date.now() / 1000) - 1 });
    // ...submitted too late, and opened too late.
    const late = await browser.submit(page, 'form[action="/invitation"]', { newPassword: 'Too-Late-Pass-1!', confirmPassword: 'Too-Late-Pass-1!' });
    expect(late.status).toBe(400);
    expect((await pageOf(late, link)).doc.querySelector('.lead')?.text.trim()).toBe(BAD_LINK);
    expect((await open(link)).page.status).toBe(400);
    expect((await signInAnswer(address, 'Too-Late-Pass-1!')).status).toBe(401);

    const reset = await adminResetLink(h, id, address);
    expect(await resetThroughLink(reset, 'Second-Chance-2!')).toEqual({ accepted: true, errors: [] });
    const { tokens } = await signIn(new Browser(), web, address, 'Second-Chance-2!', { scope: 'openid email' });
    expect(tokens.claims()).toMatchObject({ email: address, email_verified: true });
  });

  it('an invitation link is not a reset link, nor the reverse; a disabled invitee\'s link is refused', async () => {
    const { id, link } = await inviteThroughApi(h, { email: email() });
    const address = (await h.api('GET', `/users/${id}`)).body.email as string;
    const token = new URL(link).searchParams.get('token')!;
    expect((await open(`${h.running.issuer}/password/reset?token=${token}`)).page.status).toBe(400);
    expect(await resetThroughLink(`${h.running.issuer}/password/reset?token=${token}`, 'Sneaky-Pass-12!')).toMatchObject({ accepted: false });

    const resetLink = await forgotPasswordLink(h, address);
    const resetToken = new URL(resetLink).searchParams.get('token')!;
    expect((await open(`${h.running.issuer}/invitation?token=${resetToken}`)).page.status).toBe(400);
    expect(await acceptThrough(`${h.running.issuer}/invitation?token=${resetToken}`, 'Sneaky-Pass-12!')).toEqual({ accepted: false, errors: [BAD_LINK] });

    expect((await h.api('POST', `/users/${id}/disable`)).status).toBe(200);
    expect(await acceptThrough(link, 'Disabled-Pass-1!')).toEqual({ accepted: false, errors: [BAD_LINK] });
  });

  it('the API refuses a password together with invite, and no password without it', async () => {
    const both = await h.api('POST', '/users', { email: email(), password: 'Some-Pass-123!', invite: true });
    expect(both.status).toBe(400);
    expect(both.body.errors.map((e: { field: string }) => e.field)).toEqual(['password']);
    const neither = await h.api('POST', '/users', { email: email() });
    expect(neither.status).toBe(400);
    expect(neither.body.errors).toEqual([{ field: 'password', message: 'is required' }]);
    const taken = await inviteThroughApi(h, { email: email() });
    const again = await h.api('POST', '/users', { email: taken.user.email, invite: true });
    expect(again.status).toBe(409);
  });

  it('the CLI invites too (gatehouse user invite --email …)', async () => {
    const address = email();
    const before = h.smtp.received.length;
    const env = { ...process.env, ...h.running.backend.env, SMTP_URL: h.smtp.url, ISSUER: h.running.issuer };
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'user', 'invite', '--email', address, '--name', 'Cli Person'], { env, timeout: 45_000 });
    expect(JSON.parse(stdout)).toMatchObject({ email: address, invited: true, linkValidHours: 72 });
    const link = invitationLinkIn(await h.smtp.waitFor((m) => m.to === address && m.subject === 'You are invited to Gatehouse', before));
    expect(link.startsWith(`${h.running.issuer}/invitation?token=`)).toBe(true);
    expect(await acceptThrough(link, 'Cli-Chosen-Pass-1!')).toEqual({ accepted: true, errors: [] });
    const { tokens } = await signIn(new Browser(), web, address, 'Cli-Chosen-Pass-1!', { scope: 'openid email profile' });
    expect(tokens.claims()).toMatchObject({ email: address, email_verified: true, name: 'Cli Person' });
  }, 90_000); // a child process: slow on a loaded machine
});
