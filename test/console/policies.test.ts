import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, type Page } from '../helpers/browser.js';
import { createOrganization, createUser, organizationWithDomain } from '../helpers/setup.js';
import { consoleSignIn, csrfOf, mainText, postForm, submitAndRead } from '../helpers/console.js';

/**
 * The console's Security Policies page (an organization's) and Baseline policy page (the platform's), through
 * the real forms: edit → preview → save, read back through the admin API; errors next to their fields; the
 * preview's counts and the whitelist confirmation; refusals that change nothing.
 */
let h: AdminHarness;
const PASSWORD = 'Console-pass-1';
const orgs: Record<string, string> = {};

beforeAll(async () => {
  h = await startAdminHarness({ DNS_TIMEOUT_MS: '500', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  orgs.acme = await organizationWithDomain(h, 'acme corp', 'acme.test');
  // The editing organization's owner is not on its domain: the policies saved here never govern them.
  orgs.round = await organizationWithDomain(h, 'round corp', 'round.test');
  orgs.bare = await createOrganization(h, 'bare corp');
  orgs.other = await createOrganization(h, 'other corp');
  const members: [string, string, 'owner' | 'member'][] = [
    ['owner@acme.test', 'acme', 'owner'],
    ['member@acme.test', 'acme', 'member'],
    ['boss@elsewhere.test', 'round', 'owner'],
    ['boss@bare.test', 'bare', 'owner'],
    ['owner@other.test', 'other', 'owner'],
  ];
  for (const [email, org, role] of members) {
    const id = await createUser(h, email, PASSWORD);
    expect((await h.api('POST', `/organizations/${orgs[org]}/members`, { userId: id, role })).status).toBe(200);
  }
  for (const email of ['ann@acme.test', 'bob@acme.test', 'cy@acme.test']) await createUser(h, email, PASSWORD);
  await createUser(h, 'root@platform.test', PASSWORD);
  expect((await h.app.services.accounts.setPlatformAdmin('root@platform.test', true)).changed).toBe(true);
});
afterAll(() => h.stop());

const url = (path: string) => `${h.running.issuer}${path}`;
const policiesPath = (org: string) => `/console/orgs/${orgs[org]}/security-policies`;
const BASELINE = '/console/platform/baseline-policy';
const signIn = (email: string, path = '/console') => consoleSignIn(h.running.issuer, email, PASSWORD, new Browser(), path);
const policyOf = async (org: string) => (await h.api('GET', `/organizations/${orgs[org]}/security-policy`)).body.policy;
const at = (policy: Record<string, unknown>, path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], policy);

/** What a browser would submit from the form: every named field's current value (unchecked boxes left out). */
function formFields(page: Page, selector: string): Record<string, string> {
  const form = page.doc.querySelector(selector)!;
  const fields: Record<string, string> = {};
  for (const input of form.querySelectorAll('input')) {
    const name = input.getAttribute('name');
    if (!name) continue;
    const type = input.getAttribute('type');
    if (type === 'checkbox' && !input.hasAttribute('checked')) continue;
    fields[name] = input.getAttribute('value') ?? '';
  }
  for (const select of form.querySelectorAll('select')) {
    const chosen = select.querySelector('option[selected]') ?? select.querySelector('option');
    fields[select.getAttribute('name')!] = chosen?.getAttribute('value') ?? '';
  }
  for (const textarea of form.querySelectorAll('textarea')) fields[textarea.getAttribute('name')!] = textarea.text;
  return fields;
}

/** Opens the editor, changes `changes` (a checkbox unchecked by ''), and submits it to the preview. */
async function preview(browser: Browser, path: string, changes: Record<string, string>): Promise<Page> {
  const editor = await browser.page(url(path));
  expect(editor.status).toBe(200);
  const fields = { ...formFields(editor, 'form.policy-form'), ...changes };
  // An unchecked box is not sent at all.
  for (const [k, v] of Object.entries(changes)) if (v === '' && /\.(require|expire|prevent|enforce|enabled|set$)/.test(k)) delete fields[k];
  return submitAndRead(browser, editor, 'form.policy-form', fields);
}

describe('the editor', () => {
  it('shows the seed\'s four groups in order, its settings, and the reference table one click away', async () => {
    const { browser } = await signIn('boss@elsewhere.test');
    const page = await browser.page(url(policiesPath('round')));
    expect(page.doc.querySelectorAll('fieldset.policy-group legend').map((l) => l.text.trim())).toEqual(['Password Policies', 'Session Policies', 'Authentication Policy', 'Login Security']);
    const text = mainText(page);
    for (const label of ['Minimum Password Length', 'Require at Least One Non-Alphanumeric Character', 'Web Session Idle Timeout (in minutes)', 'Enforce 2FA for the Whole Domain', 'Login Lockout', 'Configure IP Whitelisting']) expect(text).toContain(label);
    expect(text).toContain('5 consecutive failed attempts (fixed)');
    expect(page.doc.querySelector('input[name="login.lockoutThreshold"]')).toBeNull();
    const min = page.doc.querySelector('#f-password-minLength')!;
    expect([min.getAttribute('min'), min.getAttribute('max'), min.getAttribute('value')]).toEqual(['6', '64', '8']);
    expect(page.doc.querySelectorAll('#f-password-expirationDays option').map((o) => o.text.trim())).toEqual(['Disabled', '90 days', '180 days', '270 days', '365 days']);
    expect(page.doc.querySelectorAll('#f-password-historyCount option').map((o) => o.text.trim())).toEqual(['Disabled', 'Last 5', 'Last 6', 'Last 7', 'Last 8', 'Last 9', 'Last 10']);
    expect(page.doc.querySelector('input#f-authentication-enforce2fa')!.getAttribute('role')).toBe('switch');
    expect(page.doc.querySelector('details.policy-reference summary')!.text).toBe('Default Settings Reference');
    expect(page.doc.querySelectorAll('details.policy-reference tbody tr')).toHaveLength(17);
    expect(text).not.toContain('not in force');
  });

  it('says the policies are not in force, and why, while the organization has no verified domain', async () => {
    const { browser } = await signIn('boss@bare.test');
    const page = await browser.page(url(policiesPath('bare')));
    expect(page.status).toBe(200);
    expect(mainText(page)).toContain('These policies are not in force. Claim and verify your domain');
    expect(page.doc.querySelector(`.policy-not-in-force a[href="/console/orgs/${orgs.bare}/domain"]`)).not.toBeNull();
  });
});

describe('every control round-trips: set, preview, save, read back through the admin API', () => {
  const cases: [string, Record<string, string>, unknown][] = [
    ['password.minLength', { 'password.minLength': '12' }, 12],
    ['password.maxLength', { 'password.maxLength': '40' }, 40],
    ['password.requireUppercase', { 'password.requireUppercase': '' }, false],
    ['password.requireLowercase', { 'password.requireLowercase': '' }, false],
    ['password.requireNumber', { 'password.requireNumber': '' }, false],
    ['password.requireSpecial', { 'password.requireSpecial': 'true' }, true],
    ['password.expirationDays', { 'password.expirationDays': '180' }, 180],
    ['password.expirationDays', { 'password.expirationDays': '' }, null],
    ['password.historyCount', { 'password.historyCount': '7' }, 7],
    ['password.historyCount', { 'password.historyCount': '' }, null],
    ['password.minAgeHours', { 'password.minAgeHours': '0' }, 0],
    ['session.webTimeoutHours', { 'session.webTimeoutHours': '48' }, 48],
    ['session.mobileExpiryHours', { 'session.mobileExpiryHours.set': 'true', 'session.mobileExpiryHours': '720' }, 720],
    ['session.mobileExpiryHours', { 'session.mobileExpiryHours.set': '' }, null],
    ['session.desktopExpiryHours', { 'session.desktopExpiryHours.set': 'true', 'session.desktopExpiryHours': '100' }, 100],
    ['session.webIdleTimeoutMinutes', { 'session.webIdleTimeoutMinutes.set': 'true', 'session.webIdleTimeoutMinutes': '30' }, 30],
    ['session.expireCookieOnBrowserClose', { 'session.expireCookieOnBrowserClose': 'true' }, true],
    ['session.preventConcurrentWebSessions', { 'session.preventConcurrentWebSessions': '' }, false],
    ['authentication.enforce2fa', { 'authentication.enforce2fa': 'true' }, true],
    ['login.ipWhitelist', { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '127.0.0.0/8\r\n::1' }, { enabled: true, cidrs: ['127.0.0.0/8', '::1'] }],
    ['login.ipWhitelist', { 'login.ipWhitelist.enabled': '' }, { enabled: false, cidrs: ['127.0.0.0/8', '::1'] }],
  ];
  let browser: Browser;
  beforeAll(async () => {
    ({ browser } = await signIn('boss@elsewhere.test'));
  });

  it.each(cases)('%s ← %j', async (field, changes, expected) => {
    const before = await policyOf('round');
    const shown = await preview(browser, policiesPath('round'), changes);
    expect([shown.status, shown.doc.querySelector('h1')!.text]).toEqual([200, 'Preview the security policy']);
    // The preview saves nothing.
    expect(await policyOf('round')).toEqual(before);
    const saved = await submitAndRead(browser, shown, 'form.policy-save');
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe(`${policiesPath('round')}?saved=1`);
    const after = await policyOf('round');
    expect(at(after, field)).toEqual(expected);
    // Nothing else moved.
    const strip = (p: Record<string, Record<string, unknown>>) => {
      const [g, k] = field.split('.') as [string, string];
      return { ...p, [g]: { ...p[g], [k]: null } };
    };
    expect(strip(after)).toEqual(strip(before));
    const page = await browser.page(url(saved.headers.get('location')!));
    expect(page.doc.querySelector('.notice')!.text).toBe('Saved');
  });

  it('the save is audited with the administrator as actor', async () => {
    const events = await h.app.services.audit.list({ organizationId: orgs.round, types: ['security_policy.updated'], limit: 50 });
    expect(events.length).toBe(cases.length);
    const boss = (await h.api('GET', `/users?email=${encodeURIComponent('boss@elsewhere.test')}`)).body.items[0].id;
    for (const e of events) expect([e.actorType, e.actorId]).toEqual(['user', boss]);
  });
});

describe('errors appear next to their field, in the API\'s words, with the values kept; nothing is saved', () => {
  const cases: [string, Record<string, string>, string, string][] = [
    ['below the range', { 'password.minLength': '5' }, 'f-password-minLength', 'must be at least 6'],
    ['above the range', { 'password.maxLength': '65' }, 'f-password-maxLength', 'must be at most 64'],
    ['max below min', { 'password.minLength': '20', 'password.maxLength': '12' }, 'f-password-maxLength', 'must be greater than or equal to password.minLength'],
    ['not a number', { 'password.minAgeHours': 'soon' }, 'f-password-minAgeHours', 'must be a number'],
    ['idle beyond the timeout', { 'session.webTimeoutHours': '1', 'session.webIdleTimeoutMinutes.set': 'true', 'session.webIdleTimeoutMinutes': '61' }, 'f-session-webIdleTimeoutMinutes', 'must be at most session.webTimeoutHours × 60'],
    ['a limit out of range', { 'session.mobileExpiryHours.set': 'true', 'session.mobileExpiryHours': '0' }, 'f-session-mobileExpiryHours', 'must be at least 1'],
    ['a whitelist entry', { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '10.0.0.0/8\n10.1.2.3/8' }, 'f-login-ipWhitelist-cidrs', '10.1.2.3/8: has host bits set'],
    ['an empty whitelist', { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '' }, 'f-login-ipWhitelist-cidrs', 'must list at least one address'],
  ];
  it.each(cases)('%s', async (_name, changes, id, words) => {
    const { browser } = await signIn('owner@acme.test');
    const before = await policyOf('acme');
    const page = await preview(browser, policiesPath('acme'), changes);
    expect(page.status).toBe(400);
    const error = page.doc.querySelector(`#${id}-error`)!;
    expect(error.text).toContain(words);
    const control = page.doc.querySelector(`#${id}`)!;
    expect(control.getAttribute('aria-invalid')).toBe('true');
    expect(control.getAttribute('aria-describedby')).toContain(`${id}-error`);
    for (const [name, value] of Object.entries(changes)) {
      const el = page.doc.querySelector(`[name="${name}"]`)!;
      const shown = el.tagName === 'TEXTAREA' ? el.text : el.getAttribute('type') === 'checkbox' ? (el.hasAttribute('checked') ? 'true' : '') : el.getAttribute('value');
      expect([name, shown]).toEqual([name, value]);
    }
    expect(await policyOf('acme')).toEqual(before);
  });
});

it('the whitelist\'s textarea takes line breaks as separators, and no other control character', async () => {
  const { browser } = await signIn('owner@acme.test');
  const before = await policyOf('acme');
  const refused = await preview(browser, policiesPath('acme'), { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '10.0.0.0/8\u0007' });
  expect(refused.status).toBe(400);
  expect(await policyOf('acme')).toEqual(before);
});

describe('the preview', () => {
  it('counts the users who must enroll a second factor, and Back to editing keeps the entered values', async () => {
    const { browser } = await signIn('owner@acme.test');
    const page = await preview(browser, policiesPath('acme'), { 'authentication.enforce2fa': 'true', 'password.minLength': '14' });
    const text = mainText(page);
    // owner, member, ann, bob and cy: every account on acme.test, none with a second factor.
    expect(text).toContain('5 users are governed by this policy');
    expect(text).toContain('5 users must enroll a second factor');
    expect(text).toContain('0 users must change their password at next sign-in');
    const back = await submitAndRead(browser, page, 'form.policy-back');
    expect(back.status).toBe(200);
    expect(back.doc.querySelector('#f-password-minLength')!.getAttribute('value')).toBe('14');
    expect(back.doc.querySelector('#f-authentication-enforce2fa')!.hasAttribute('checked')).toBe(true);
    expect((await policyOf('acme')).authentication.enforce2fa).toBe(false);
  });

  it('counts the users whose password is older than a new expiry', async () => {
    // Ann last changed her password 100 days ago: a 90-day expiry makes her change it at her next sign-in.
    await h.app.services.db('accounts').where({ email: 'ann@acme.test' }).update({ password_changed_at: Math.floor(Date.now() / 1000) - 100 * 86400 });
    const { browser } = await signIn('owner@acme.test');
    const text = mainText(await preview(browser, policiesPath('acme'), { 'password.expirationDays': '90' }));
    expect(text).toContain('1 user must change their password at next sign-in');
    expect(text).toContain('0 users must enroll a second factor');
  });

  it('a whitelist that leaves out the administrator\'s address must be confirmed; without it nothing is saved', async () => {
    const { browser } = await signIn('boss@elsewhere.test');
    const before = await policyOf('round');
    const page = await preview(browser, policiesPath('round'), { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '203.0.113.0/24' });
    const text = mainText(page);
    expect(text).toMatch(/The IP whitelist does not include your current address \((127\.0\.0\.1|::1)\)/);
    const confirm = page.doc.querySelector('form.policy-save input#confirm-lockout')!;
    expect(confirm.hasAttribute('required')).toBe(true);
    expect(page.doc.querySelector('label[for="confirm-lockout"]')!.text).toMatch(/^I understand I will lose access from /);

    const refused = await submitAndRead(browser, page, 'form.policy-save');
    expect(refused.status).toBe(409);
    expect(mainText(refused)).toContain('Confirm that you understand you will lose access');
    expect(await policyOf('round')).toEqual(before);

    const saved = await submitAndRead(browser, page, 'form.policy-save', { confirmLockout: 'true' });
    expect(saved.status).toBe(303);
    expect((await policyOf('round')).login.ipWhitelist).toEqual({ enabled: true, cidrs: ['203.0.113.0/24'] });
    expect((await h.api('PATCH', `/organizations/${orgs.round}/security-policy`, { policy: { login: { ipWhitelist: { enabled: false } } } })).status).toBe(200);
  });
});

describe('refusals change nothing', () => {
  const forms = ['preview', 'edit', 'save'];
  const change = { 'password.minLength': '30', 'password.maxLength': '40' };

  it('an administrator of another organization: 403 on the page and every form', async () => {
    const before = await policyOf('acme');
    const { browser, page } = await signIn('owner@other.test');
    const csrf = csrfOf(page);
    expect((await browser.request(url(policiesPath('acme')))).status).toBe(403);
    for (const form of forms) expect([form, (await postForm(browser, url(`${policiesPath('acme')}/${form}`), { csrf, ...change })).status]).toEqual([form, 403]);
    expect(await policyOf('acme')).toEqual(before);
  });

  it('a member: the "not an administrator" page, 403', async () => {
    const before = await policyOf('acme');
    const { browser } = await signIn('member@acme.test');
    expect((await browser.request(url(policiesPath('acme')))).status).toBe(403);
    for (const form of forms) expect([form, (await postForm(browser, url(`${policiesPath('acme')}/${form}`), { csrf: 'x', ...change })).status]).toEqual([form, 403]);
    expect(await policyOf('acme')).toEqual(before);
  });

  it('anonymous: GET is sent to sign in, POST is 401', async () => {
    const before = await policyOf('acme');
    const anonymous = new Browser();
    for (const path of [policiesPath('acme'), BASELINE]) {
      const res = await anonymous.request(url(path));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(/\/auth\?/);
      for (const form of forms) expect([form, (await postForm(anonymous, url(`${path}/${form}`), { csrf: 'x', ...change })).status]).toEqual([form, 401]);
    }
    expect(await policyOf('acme')).toEqual(before);
  });

  it.each([['missing', undefined], ['wrong', 'x'.repeat(43)]])('a %s CSRF token: 403', async (_name, csrf) => {
    const before = await policyOf('acme');
    const { browser } = await signIn('owner@acme.test');
    const shown = await preview(browser, policiesPath('acme'), change);
    const fields = formFields(shown, 'form.policy-save');
    if (csrf === undefined) delete fields.csrf;
    else fields.csrf = csrf;
    expect((await postForm(browser, url(`${policiesPath('acme')}/save`), fields)).status).toBe(403);
    expect(await policyOf('acme')).toEqual(before);
  });
});

describe('a platform admin (a person)', () => {
  it('edits an organization\'s policy', async () => {
    const { browser } = await signIn('root@platform.test');
    const page = await preview(browser, policiesPath('bare'), { 'password.minLength': '9' });
    expect(page.status).toBe(200);
    expect((await submitAndRead(browser, page, 'form.policy-save')).status).toBe(303);
    expect((await policyOf('bare')).password.minLength).toBe(9);
  });

  it('edits the baseline: review lists the changes, save stores it, audited with them as actor', async () => {
    const { browser } = await signIn('root@platform.test');
    const editor = await browser.page(url(BASELINE));
    expect(editor.status).toBe(200);
    expect(editor.doc.querySelector('nav.console-nav-platform a[aria-current="page"]')!.text).toBe('Baseline policy');
    const bad = await preview(browser, BASELINE, { 'password.minLength': '99' });
    expect([bad.status, bad.doc.querySelector('#f-password-minLength-error')!.text]).toEqual([400, 'must be at most 64']);
    const review = await preview(browser, BASELINE, { 'password.minLength': '10', 'password.requireSpecial': 'true' });
    expect(review.doc.querySelector('h1')!.text).toBe('Review the baseline policy');
    expect(review.doc.querySelectorAll('table.policy-changes tbody tr').map((r) => r.querySelectorAll('td').map((c) => c.text.trim()).join(' | '))).toEqual([
      'Minimum Password Length | 8 | 10',
      'Require at Least One Non-Alphanumeric Character | Disabled | Enabled',
    ]);
    expect((await h.api('GET', '/baseline-policy')).body.policy.password.minLength).toBe(8);
    const saved = await submitAndRead(browser, review, 'form.policy-save');
    expect([saved.status, saved.headers.get('location')]).toEqual([303, `${BASELINE}?saved=1`]);
    expect((await h.api('GET', '/baseline-policy')).body.policy.password).toMatchObject({ minLength: 10, requireSpecial: true });
    const [event] = await h.app.services.audit.list({ types: ['baseline_policy.updated'], limit: 1 });
    const root = (await h.api('GET', `/users?email=${encodeURIComponent('root@platform.test')}`)).body.items[0].id;
    expect([event!.actorType, event!.actorId]).toEqual(['user', root]);
    expect((await h.api('PUT', '/baseline-policy', { policy: {} })).status).toBe(200);
  });

  it('an organization owner is refused the baseline page and its forms; nothing changes', async () => {
    const before = (await h.api('GET', '/baseline-policy')).body.policy;
    const { browser, page } = await signIn('owner@acme.test');
    expect((await browser.request(url(BASELINE))).status).toBe(403);
    for (const form of ['preview', 'edit', 'save']) {
      expect([form, (await postForm(browser, url(`${BASELINE}/${form}`), { csrf: csrfOf(page), 'password.minLength': '30', 'password.maxLength': '40' })).status]).toEqual([form, 403]);
    }
    expect((await h.api('GET', '/baseline-policy')).body.policy).toEqual(before);
  });
});

describe('the baseline\'s whitelist (last: it governs the unclaimed domains of most administrators here)', () => {
  it('one that leaves out the administrator\'s address must be confirmed; without it nothing is saved', async () => {
    const { browser } = await signIn('root@platform.test');
    const before = (await h.api('GET', '/baseline-policy')).body.policy;
    const review = await preview(browser, BASELINE, { 'login.ipWhitelist.enabled': 'true', 'login.ipWhitelist.cidrs': '203.0.113.0/24' });
    expect(mainText(review)).toContain('The IP whitelist does not include your current address');
    const refused = await submitAndRead(browser, review, 'form.policy-save');
    expect(refused.status).toBe(409);
    expect((await h.api('GET', '/baseline-policy')).body.policy).toEqual(before);
    const saved = await submitAndRead(browser, review, 'form.policy-save', { confirmLockout: 'true' });
    expect(saved.status).toBe(303);
    expect((await h.api('GET', '/baseline-policy')).body.policy.login.ipWhitelist).toEqual({ enabled: true, cidrs: ['203.0.113.0/24'] });
    expect((await h.api('PUT', '/baseline-policy', { policy: {} })).status).toBe(200);
  });
});
