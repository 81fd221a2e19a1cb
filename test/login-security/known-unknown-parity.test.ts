import { jest } from '@jest/globals';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { Browser, errorsOn } from '../helpers/browser.js';
import { clock } from '../helpers/clock.js';
import { registerClient, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';

/**
 * Item 7: an address without an account must be indistinguishable from an account by its lockout
 * answers. The same sequences of wrong passwords and waits are replayed, interleaved, against a real
 * account and an unknown address through the real sign-in form; every answer (status and messages)
 * must be identical. The lockout is 1 minute (LOCKOUT_MINUTES=1); waits move the clock forward.
 */
const PASSWORD = 'Right-Pass-1';
const WRONG = 'Wrong-Pass-1';
const GENERIC = 'Incorrect email or password.';
// LOCKOUT_MINUTES=1: every refusal while locked has at most a minute left, on both addresses alike.
const LOCKED = 'Too many failed sign-ins. Try again in 1 minute, or reset your password.';

// Many sign-ins through argon2 on a shared machine.
jest.setTimeout(120_000);
let h: AdminHarness;
let web: TestClient;
let orgId: string;
let n = 0;

beforeAll(async () => {
  clock.install();
  h = await startAdminHarness({ LOCKOUT_MINUTES: '1' });
  web = await registerClient(h.app, h.running.issuer);
  orgId = (await h.api('POST', '/organizations', { name: 'Parity' })).body.id;
  const claim = await h.api('POST', `/organizations/${orgId}/domains`, { domain: 'parity.example' });
  expect(claim.status).toBe(201);
  h.dns.txt.set('_gatehouse-challenge.parity.example', [[claim.body.verification.value]]);
  expect((await h.api('POST', `/organizations/${orgId}/domains/parity.example/verify`)).body.status).toBe('verified');
});
afterAll(async () => {
  await h.stop();
  clock.uninstall();
});

/** A real account and an address on the same domain that has none. */
async function pair() {
  const known = `real${++n}@parity.example`;
  const res = await h.api('POST', '/users', { email: known, password: PASSWORD });
  expect(res.status).toBe(201);
  return { known, unknown: `ghost${n}@parity.example` };
}

async function attempt(email: string, password = WRONG) {
  const browser = new Browser();
  const { loginPage } = await startSignIn(browser, web);
  const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
  if (res.status === 303) return { status: 303, errors: [] as string[] };
  return { status: res.status, errors: errorsOn(await pageOf(res, loginPage.url)) };
}

type Step = 'wrong' | { wait: number };
const wrong = (k: number): Step[] => Array<Step>(k).fill('wrong');
const wait = (seconds: number): Step => ({ wait: seconds });

/** Replays `steps` against both addresses, each attempt on the known one followed by the same on the unknown one. */
async function replay(steps: Step[]) {
  const { known, unknown } = await pair();
  const answers = { known: [] as string[], unknown: [] as string[] };
  for (const step of steps) {
    if (step !== 'wrong') {
      clock.advance(step.wait);
      continue;
    }
    for (const [who, email] of [['known', known], ['unknown', unknown]] as const) {
      const { status, errors } = await attempt(email);
      answers[who].push(`${status} ${errors.join(' | ')}`);
    }
  }
  return answers;
}

const F = `401 ${GENERIC}`;
const L = `429 ${LOCKED}`;

describe('known and unknown addresses follow the same counting rules', () => {
  it.each([
    // The sequence from the attack review: 4 wrong, a wait past the lockout time, then more.
    ['4 wrong, wait past the lockout time, 6 more', [...wrong(4), wait(61), ...wrong(6)], [F, F, F, F, F, F, F, F, F, L]],
    ['5 wrong, refused while locked, wait, then the count starts afresh', [...wrong(7), wait(61), ...wrong(6)], [F, F, F, F, F, L, L, F, F, F, F, F, L]],
    ['a lock lasts the lockout time, not less', [...wrong(5), wait(30), 'wrong', wait(31), 'wrong'], [F, F, F, F, F, L, F]],
    ['failures less than the lockout time apart keep counting', [...wrong(2), wait(40), ...wrong(2), wait(40), ...wrong(2)], [F, F, F, F, F, L]],
    ['the count lapses the lockout time after the last failure', [...wrong(3), wait(50), 'wrong', wait(61), ...wrong(6)], [F, F, F, F, F, F, F, F, F, L]],
  ] as const)('%s', async (_name, steps, expected) => {
    const answers = await replay([...steps]);
    expect(answers.unknown).toEqual(answers.known);
    expect(answers.known).toEqual(expected);
  });

  it('counts atomically for both: 20 parallel wrong attempts check the hash 5 times and lock', async () => {
    const { known, unknown } = await pair();
    const [k, u] = await Promise.all([known, unknown].map((email) => Promise.all(Array.from({ length: 20 }, () => attempt(email)))));
    for (const results of [k!, u!]) {
      expect(results.filter((r) => r.status === 401)).toHaveLength(5);
      expect(results.filter((r) => r.status === 429)).toHaveLength(15);
    }
    // Only the counted attempts reached the password hash (or the equal-cost burn for the unknown address).
    const events = (await h.api('GET', `/organizations/${orgId}/events?type=sign_in.failed&limit=200`)).body.items as { data: { email: string; reason: string } }[];
    for (const email of [known, unknown]) {
      const reasons = events.filter((e) => e.data.email === email).map((e) => e.data.reason);
      expect(reasons.filter((r) => r === 'invalid')).toHaveLength(5);
      expect(reasons.filter((r) => r === 'locked')).toHaveLength(15);
    }
  });

  it('a lapsed counter of an unknown address is swept, and sweeping changes no answer', async () => {
    const { unknown } = await pair();
    for (let i = 0; i < 4; i++) expect((await attempt(unknown)).status).toBe(401);
    clock.advance(61);
    expect(await h.app.services.accounts.sweepUnknownAddresses()).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 4; i++) expect((await attempt(unknown)).status).toBe(401);
    expect((await attempt(unknown)).status).toBe(401);
    expect((await attempt(unknown)).status).toBe(429);
    // Locked counters are kept until the lock ends.
    expect(await h.app.services.accounts.sweepUnknownAddresses()).toBe(0);
  });
});
