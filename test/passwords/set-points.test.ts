/**
 * Every password rule, switched on and off, under an organization's policy and under the baseline,
 * at every place a password is set: admin API creation, CLI creation, the account page, the forced
 * change at sign-in, the forgot-password link and the admin-sent reset link.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { registerClient, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { adminResetLink, forgotPasswordLink, pageOf, resetThroughLink, submitNewPassword, type Attempt } from '../helpers/password-flows.js';
import { organizationWithDomain } from '../helpers/setup.js';

const START = 'Start-Pass-1';
const PERMISSIVE = {
  minLength: 6,
  maxLength: 64,
  requireUppercase: false,
  requireLowercase: false,
  requireNumber: false,
  requireSpecial: false,
  minAgeHours: 0,
};

let h: AdminHarness;
let web: TestClient;
let orgId: string;
let counter = 0;

beforeAll(async () => {
  h = await startAdminHarness({ PASSWORD_RESET_LIMIT_PER_HOUR: '1000' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = await organizationWithDomain(h, 'Rules Inc', 'rules.example');
});
afterAll(() => h.stop());

interface Scope {
  name: string;
  domain: string;
  setRules(rules: object): Promise<void>;
}
const scopes: Scope[] = [
  {
    name: 'organization policy',
    domain: 'rules.example',
    async setRules(rules) {
      expect((await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy: { password: rules } })).status).toBe(200);
    },
  },
  {
    name: 'baseline',
    domain: 'unclaimed.example',
    async setRules(rules) {
      expect((await h.api('PUT', '/baseline-policy', { policy: { password: rules } })).status).toBe(200);
    },
  },
];

// rule, the setting that switches it on, a password only that rule refuses, the message shown
const rules = [
  ['minLength', { minLength: 12 }, 'quiet-river', 'Use at least 12 characters.'],
  ['maxLength', { maxLength: 10 }, 'quiet-river', 'Use at most 10 characters.'],
  ['requireUppercase', { requireUppercase: true }, 'quiet-river', 'Include an uppercase letter (A–Z).'],
  ['requireLowercase', { requireLowercase: true }, 'QUIET-RIVER', 'Include a lowercase letter (a–z).'],
  ['requireNumber', { requireNumber: true }, 'quiet-river', 'Include a number (0–9).'],
  ['requireSpecial', { requireSpecial: true }, 'quietriver', 'Include a symbol (any character that is not a letter or digit).'],
] as const;

const CLI = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

/** A user created under the permissive rules, before the rule under test is switched on. */
async function existingUser(scope: Scope) {
  const email = `u${++counter}@${scope.domain}`;
  const res = await h.api('POST', '/users', { email, password: START });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** Each set point: prepare (under permissive rules), then try the candidate (under the rules being tested). */
type SetPoint = [name: string, prepare: (scope: Scope) => Promise<(candidate: string) => Promise<Attempt>>];
const setPoints: SetPoint[] = [
  [
    'admin API user creation',
    async (scope) => async (candidate) => {
      const res = await h.api('POST', '/users', { email: `n${++counter}@${scope.domain}`, password: candidate });
      return { accepted: res.status === 201, errors: (res.body.errors ?? []).map((e: { message: string }) => e.message) };
    },
  ],
  [
    'CLI user creation',
    async (scope) => async (candidate) => {
      const env = { ...process.env, ...h.running.backend.env };
      const result = await promisify(execFile)(process.execPath, [CLI, 'user', 'create', '--email', `c${++counter}@${scope.domain}`, '--password', candidate], { env, timeout: 20_000 }).then(
        () => ({ accepted: true, errors: [] as string[] }),
        (err: { stderr: string }) => ({ accepted: false, errors: err.stderr.split('; ').map((e) => e.replace(/^gatehouse: |\n$/g, '').replace(/^password: /, '')) }),
      );
      return result;
    },
  ],
  [
    'account page (self-service)',
    async (scope) => {
      const { email } = await existingUser(scope);
      const browser = new Browser();
      await signIn(browser, web, email, START);
      return async (candidate) => {
        const page = await browser.page(`${h.running.issuer}/account/security`);
        return submitNewPassword(browser, page, 'form[action="/account/password"]', candidate, { currentPassword: START });
      };
    },
  ],
  [
    'forced change at sign-in',
    async (scope) => {
      const { email, id } = await existingUser(scope);
      await h.api('POST', `/users/${id}/password-reset`, { requireChangeAtNextSignIn: true });
      return async (candidate) => {
        const browser = new Browser();
        const { loginPage } = await startSignIn(browser, web);
        const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password: START });
        const page = await browser.page(new URL(res.headers.get('location')!, loginPage.url).href);
        expect(page.doc.querySelector('form[action$="/change-password"]')).toBeTruthy();
        return submitNewPassword(browser, page, 'form[action$="/change-password"]', candidate);
      };
    },
  ],
  [
    'forgot-password link',
    async (scope) => {
      const { email } = await existingUser(scope);
      const link = await forgotPasswordLink(h, email);
      return (candidate) => resetThroughLink(link, candidate);
    },
  ],
  [
    'admin-sent reset link',
    async (scope) => {
      const { email, id } = await existingUser(scope);
      const link = await adminResetLink(h, id, email);
      return (candidate) => resetThroughLink(link, candidate);
    },
  ],
];

describe.each(scopes.map((s) => [s.name, s] as const))('under the %s', (_name, scope) => {
  describe.each(setPoints)('at %s', (_setPoint, prepare) => {
    it.each(rules.flatMap(([rule, on, candidate, message]) => [
      [`${rule} on refuses`, on, candidate, message],
      [`${rule} off accepts`, {}, candidate, null],
    ]))('%s', async (_label, setting, candidate, message) => {
      await scope.setRules(PERMISSIVE);
      const attempt = await prepare(scope);
      await scope.setRules({ ...PERMISSIVE, ...setting });
      const result = await attempt(candidate);
      if (message === null) expect(result).toEqual({ accepted: true, errors: [] });
      else expect(result).toEqual({ accepted: false, errors: [message] });
    });
  });
});

test('the sign-in pages show the rules in force before the user types', async () => {
  await scopes[0]!.setRules(PERMISSIVE);
  const { email, id } = await existingUser(scopes[0]!);
  await scopes[0]!.setRules({ ...PERMISSIVE, minLength: 14, requireSpecial: true });
  const link = await adminResetLink(h, id, email);
  const page = await new Browser().page(link);
  const shown = page.doc.querySelectorAll('#password-rules li').map((li) => li.text);
  expect(shown).toEqual(['14 to 64 characters', 'a symbol such as ! @ # or -', 'not your email address or name']);
  const errors = errorsOn(await pageOf(await new Browser().request(link), link));
  expect(errors).toEqual([]);
});
