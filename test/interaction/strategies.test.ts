/**
 * The sign-in strategies (src/interaction/strategies) on the real services of the test backend (SQLite;
 * PostgreSQL + Redis when DATABASE_URL and REDIS_URL say so), each called with the little of a step's
 * context it reads: the request (address), the account already known (second factors) and the flow's
 * uid (the passkey challenge is bound to it). Passkeys come from a software authenticator that speaks
 * the browser's JSON (test/helpers/soft-authenticator.ts). What each verdict says is checked, and so is
 * what it leaves behind: the failed-attempt count, the passkey's stored counter, a used code.
 */
import { randomUUID } from 'node:crypto';
import { generate } from 'otplib';
import { startAdminHarness, type AdminHarness } from '../helpers/admin.js';
import { organizationWithDomain, putPolicy } from '../helpers/setup.js';
import { SoftAuthenticator, type Ceremony, type SoftAuthenticatorOptions } from '../helpers/soft-authenticator.js';
import { nextStepCode, wrongCode } from '../helpers/two-factor.js';
import type { Services } from '../../src/services/index.js';
import type { PasskeyFactor } from '../../src/stores/factors.js';
import type { AccountRecord } from '../../src/stores/sql/accounts.js';
import type { StepContext } from '../../src/interaction/steps/step.js';
import { NETWORK_NOT_ALLOWED, PasswordStrategy, SIGN_IN_FAILED } from '../../src/interaction/strategies/password.js';

/** The lock message says how many minutes are left (lockedFor). */
const LOCKED = { text: 'Too many failed sign-ins. Try again in {{count}} minutes, or reset your password.', values: { count: expect.any(Number) } };
import { OneTimeCodeStrategy, RECOVERY_INVALID, TOTP_INVALID } from '../../src/interaction/strategies/one-time-codes.js';
import { bindingOf, PASSKEY_CLONED, PASSKEY_FAILED, PasskeyStrategy, type PasskeyUse } from '../../src/interaction/strategies/passkey.js';

const PASSWORD = 'Strategy-Pass-1';
const WRONG = 'Strategy-Wrong-1';
/** The whitelist of the walled organization, and addresses inside and outside it. */
const CIDRS = ['203.0.113.0/24'];
const INSIDE = '203.0.113.7';
const OUTSIDE = '198.51.100.7';
const OPEN = 'open.example';
const WALLED = 'walled.example';

/** The verdict on a passkey the strategy refuses, counted against `account`. */
const passkeyRefused = (account: { email: string; id: string }) =>
  ({ ok: false, status: 401, error: PASSKEY_FAILED, failure: 'passkey-refused', email: account.email, accountId: account.id }) as const;

let h: AdminHarness;
let services: Services;
let origin: string;
let n = 0;

beforeAll(async () => {
  h = await startAdminHarness({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  services = h.app.services;
  origin = h.running.issuer;
  const walled = await organizationWithDomain(h, 'Walled', WALLED);
  await putPolicy(h, walled, { login: { ipWhitelist: { enabled: true, cidrs: CIDRS } } });
});
afterAll(() => h.stop());

const request = (ip: string) => ({ ip, userAgent: 'jest' });

/** The part of a step's context a strategy reads: the request, the account known so far, the flow's uid. */
function stepContext(options: { ip?: string; known?: AccountRecord; uid?: string } = {}): StepContext {
  return {
    request: request(options.ip ?? INSIDE),
    known: options.known ? { account: options.known } : undefined,
    flow: { uid: options.uid ?? randomUUID() },
  } as unknown as StepContext;
}

async function account(domain = OPEN): Promise<AccountRecord> {
  return services.accounts.create({ email: `s${++n}@${domain}`, password: PASSWORD });
}

/** The account as stored now (a strategy is handed the account read at the start of the request). */
const fresh = async (a: AccountRecord) => (await services.accounts.findById(a.id))!;
const failedAttempts = async (a: AccountRecord) => (await services.db('accounts').where({ id: a.id }).first('failed_attempts')).failed_attempts as number;
const storedCount = async (p: PasskeyFactor) => (await services.factorStore.findPasskey(p.credentialId))!.signCount;

describe('PasswordStrategy', () => {
  const strategy = () => new PasswordStrategy(services);

  it('a right password is the first factor, by password (amr pwd, one factor only), for the account, with the policy and factors it read', async () => {
    const a = await account();
    expect(await strategy().verify(stepContext(), { email: a.email, password: PASSWORD })).toEqual({
      ok: true,
      accountId: a.id,
      event: { type: 'first-factor', passed: { method: 'password', amr: ['pwd'], multiFactor: false } },
      loaded: { effective: await services.policies.effectiveFor(a), factors: { totp: false, passkeys: 0 } },
    });
    // The address is taken as the user types it.
    expect(await strategy().verify(stepContext(), { email: `  ${a.email.toUpperCase()} `, password: PASSWORD })).toMatchObject({ ok: true, accountId: a.id });
  });

  it('a wrong password, or an unknown address, is refused alike (401, invalid) and counted', async () => {
    const a = await account();
    const refusal = { ok: false, status: 401, error: SIGN_IN_FAILED, failure: 'invalid', email: a.email };
    // The account is named for its audit trail only; what the user is shown is the same.
    expect(await strategy().verify(stepContext(), { email: a.email, password: WRONG })).toEqual({ ...refusal, accountId: a.id });
    expect(await failedAttempts(a)).toBe(1);
    const ghost = `ghost${++n}@${OPEN}`;
    const unknown = await strategy().verify(stepContext(), { email: ghost, password: PASSWORD });
    expect(unknown).toEqual({ ...refusal, email: ghost });
    expect((unknown as { accountId?: string }).accountId).toBeUndefined();
  });

  it('locked after five failures: refused with 429 and the lock message, even with the right password', async () => {
    const a = await account();
    for (let i = 0; i < 5; i++) expect(await strategy().verify(stepContext(), { email: a.email, password: WRONG })).toMatchObject({ status: 401 });
    expect(await strategy().verify(stepContext(), { email: a.email, password: PASSWORD })).toEqual({
      ok: false,
      status: 429,
      error: LOCKED,
      failure: 'locked',
      email: a.email,
      accountId: a.id,
    });
  });

  it('outside the whitelist of the governing policy: 403 before the password is checked, no attempt counted', async () => {
    const a = await account(WALLED);
    for (const password of [WRONG, WRONG, WRONG, WRONG, WRONG, WRONG, PASSWORD]) {
      expect(await strategy().verify(stepContext({ ip: OUTSIDE }), { email: a.email, password })).toEqual({
        ok: false,
        status: 403,
        error: NETWORK_NOT_ALLOWED,
        failure: 'ip-not-allowed',
        email: a.email,
      });
    }
    expect(await failedAttempts(a)).toBe(0);
    expect(await strategy().verify(stepContext({ ip: INSIDE }), { email: a.email, password: PASSWORD })).toMatchObject({ ok: true, accountId: a.id });
    // The whitelist is the walled organization's only: an address elsewhere signs in from anywhere.
    const b = await account();
    expect(await strategy().verify(stepContext({ ip: OUTSIDE }), { email: b.email, password: PASSWORD })).toMatchObject({ ok: true, accountId: b.id });
  });
});

describe('OneTimeCodeStrategy', () => {
  const totp = () => new OneTimeCodeStrategy(services, 'totp');
  const recovery = () => new OneTimeCodeStrategy(services, 'recovery-code');

  /** An account with an authenticator app confirmed (at the current step) and its recovery codes. */
  async function withTotp() {
    const a = await account();
    const enrollment = await services.twoFactor.startEnrollment(a);
    const codes = await services.twoFactor.confirmEnrollment(a, enrollment.sealed, await generate({ secret: enrollment.secret }), { type: 'user', id: a.id }, request(INSIDE));
    if (!Array.isArray(codes)) throw new Error(`set-up failed: enrollment answered ${String(codes)}`);
    return { account: await fresh(a), secret: enrollment.secret, codes };
  }

  it("'totp': a code from the app is the second factor by totp (amr otp), and clears the failures", async () => {
    const { account: a, secret } = await withTotp();
    await totp().verify(stepContext({ known: a }), await wrongCode(secret));
    expect(await failedAttempts(a)).toBe(1);
    expect(await totp().verify(stepContext({ known: a }), await nextStepCode(secret))).toEqual({
      ok: true,
      event: { type: 'second-factor', passed: { method: 'totp', amr: ['otp'] } },
    });
    expect(await failedAttempts(a)).toBe(0);
  });

  it("'recovery-code': one of the codes is the second factor by recovery code (amr otp), once", async () => {
    const { account: a, codes } = await withTotp();
    expect(await recovery().verify(stepContext({ known: a }), codes[0]!)).toEqual({
      ok: true,
      event: { type: 'second-factor', passed: { method: 'recovery-code', amr: ['otp'] } },
    });
    expect(await recovery().verify(stepContext({ known: a }), codes[0]!)).toEqual({
      ok: false,
      status: 401,
      error: RECOVERY_INVALID,
      failure: 'invalid-second-factor',
      email: a.email,
      accountId: a.id,
    });
  });

  it('a wrong code is refused (401) with the sentence of its method, and counted', async () => {
    const { account: a, secret } = await withTotp();
    const who = { email: a.email, accountId: a.id };
    expect(await totp().verify(stepContext({ known: a }), await wrongCode(secret))).toEqual({ ok: false, status: 401, error: TOTP_INVALID, failure: 'invalid-second-factor', ...who });
    expect(await recovery().verify(stepContext({ known: a }), 'ABCDE-FGHJK')).toEqual({ ok: false, status: 401, error: RECOVERY_INVALID, failure: 'invalid-second-factor', ...who });
    expect(await failedAttempts(a)).toBe(2);
  });

  it("the other kind's code is refused by each method, and is not used up by the refusal", async () => {
    const { account: a, secret, codes } = await withTotp();
    const code = await nextStepCode(secret);
    // A valid recovery code on the app's page, and a valid app code on the recovery-code page.
    expect(await totp().verify(stepContext({ known: a }), codes[0]!)).toMatchObject({ ok: false, status: 401, error: TOTP_INVALID });
    expect(await recovery().verify(stepContext({ known: a }), code)).toMatchObject({ ok: false, status: 401, error: RECOVERY_INVALID });
    // Each still passes its own method afterwards.
    expect(await totp().verify(stepContext({ known: a }), code)).toMatchObject({ ok: true });
    expect(await recovery().verify(stepContext({ known: a }), codes[0]!)).toMatchObject({ ok: true });
  });

  it('locked: 429 with the lock message, for a right code of either kind', async () => {
    const { account: a, secret, codes } = await withTotp();
    for (let i = 0; i < 5; i++) expect(await totp().verify(stepContext({ known: a }), await wrongCode(secret))).toMatchObject({ status: 401 });
    const locked = { ok: false, status: 429, error: LOCKED, failure: 'locked', email: a.email, accountId: a.id };
    expect(await totp().verify(stepContext({ known: a }), await nextStepCode(secret))).toEqual(locked);
    expect(await recovery().verify(stepContext({ known: a }), codes[1]!)).toEqual(locked);
  });
});

describe('PasskeyStrategy', () => {
  const strategy = () => new PasskeyStrategy(services);
  const authenticator = (options: Partial<SoftAuthenticatorOptions> = {}) => new SoftAuthenticator({ origin, ...options });

  /** Registers a passkey of `soft` for the account and stores it, as the account page does. */
  async function enroll(a: AccountRecord, soft: SoftAuthenticator): Promise<PasskeyFactor> {
    const binding = `test:${randomUUID()}`;
    const options = await services.passkeys.registrationOptions(a, binding, await services.passkeys.list(a.id));
    const result = await services.passkeys.verifyRegistration(a, binding, soft.register(options));
    if (!result.ok) throw new Error(`set-up failed: registration refused (${result.reason})`);
    if (!(await services.passkeys.addPasskey(a, result.factor, {}, { type: 'user', id: a.id }, request(INSIDE)))) throw new Error('set-up failed: passkey not stored');
    return result.factor;
  }

  /** An authenticator holding a discoverable credential for this RP ID that the server never registered. */
  function unregistered(): SoftAuthenticator {
    const soft = authenticator();
    soft.register({
      rp: { id: services.passkeys.rpId, name: 'Gatehouse' },
      user: { id: Buffer.from(randomUUID()).toString('base64url'), name: 'nobody', displayName: 'nobody' },
      challenge: Buffer.from(randomUUID()).toString('base64url'),
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    return soft;
  }

  async function withPasskey(domain = OPEN, options: Partial<SoftAuthenticatorOptions> = {}) {
    const a = await account(domain);
    const soft = authenticator(options);
    const passkey = await enroll(a, soft);
    return { account: a, soft, passkey };
  }

  /**
   * One ceremony as the pages run it: options under the flow's binding (the sign-in page asks for any
   * passkey with user verification; the second step for the account's, UV preferred), the
   * authenticator's answer, the strategy's verdict.
   */
  async function ceremony(
    soft: SoftAuthenticator,
    use: PasskeyUse,
    options: { known?: AccountRecord; ip?: string; lie?: Ceremony } = {},
  ) {
    const uid = randomUUID();
    const allow = options.known ? await services.passkeys.list(options.known.id) : undefined;
    const requestOptions = await services.passkeys.authenticationOptions(bindingOf(uid), {
      allow,
      userVerification: use === 'first' ? 'required' : 'preferred',
    });
    const credential = JSON.stringify(soft.authenticate(requestOptions, options.lie));
    return strategy().verify(stepContext({ uid, ip: options.ip, known: options.known }), { credential, use });
  }

  describe("'first' (password-less)", () => {
    it('a passkey with user verification is both factors: the account, amr hwk, multiFactor', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      await services.db('accounts').where({ id: a.id }).update({ failed_attempts: 2 });
      expect(await ceremony(soft, 'first')).toEqual({
        ok: true,
        accountId: a.id,
        event: { type: 'first-factor', passed: { method: 'passkey', amr: ['hwk'], multiFactor: true } },
      });
      expect(await storedCount(passkey)).toBe(1);
      expect(await failedAttempts(a)).toBe(0);
    });

    it('a synced passkey is swk', async () => {
      const { account: a, soft } = await withPasskey(OPEN, { synced: true });
      expect(await ceremony(soft, 'first')).toMatchObject({ ok: true, accountId: a.id, event: { passed: { amr: ['swk'], multiFactor: true } } });
    });

    it('without user verification it is refused, and counted', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      expect(await ceremony(soft, 'first', { lie: { userVerified: false } })).toEqual(passkeyRefused(a));
      expect(await failedAttempts(a)).toBe(1);
      expect(await storedCount(passkey)).toBe(0);
      // A security key that cannot verify its user never signs anyone in alone.
      const u2f = await withPasskey(OPEN, { userVerifying: false, residentKeys: false });
      const uid = randomUUID();
      const options = await services.passkeys.authenticationOptions(bindingOf(uid), { allow: [u2f.passkey], userVerification: 'required' });
      expect(await strategy().verify(stepContext({ uid }), { credential: JSON.stringify(u2f.soft.authenticate(options)), use: 'first' })).toMatchObject({
        ok: false,
        status: 401,
        failure: 'passkey-refused',
      });
    });

    it('an unknown credential, or what is not a credential, is refused without naming anyone', async () => {
      const stranger = unregistered();
      const unknown = { ok: false, status: 401, error: PASSKEY_FAILED, failure: 'passkey-refused' };
      expect(await ceremony(stranger, 'first')).toEqual(unknown);
      expect(await strategy().verify(stepContext(), { credential: 'not json', use: 'first' })).toEqual({ ...unknown, status: 400 });
      expect(await strategy().verify(stepContext(), { credential: '{"id":42}', use: 'first' })).toEqual(unknown);
    });

    it('a disabled account is refused before anything moves', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      await services.accounts.setStatus(a.id, 'disabled');
      expect(await ceremony(soft, 'first')).toEqual(passkeyRefused(a));
      expect(await storedCount(passkey)).toBe(0);
      expect(await failedAttempts(a)).toBe(0);
      await services.accounts.setStatus(a.id, 'active');
      expect(await ceremony(soft, 'first')).toMatchObject({ ok: true, accountId: a.id });
    });

    it('outside the whitelist of the passkey owner\'s policy: 403 before the counter moves or an attempt is taken', async () => {
      const { account: a, soft, passkey } = await withPasskey(WALLED);
      for (let i = 0; i < 6; i++) {
        expect(await ceremony(soft, 'first', { ip: OUTSIDE })).toEqual({
          ok: false,
          status: 403,
          error: NETWORK_NOT_ALLOWED,
          failure: 'ip-not-allowed',
          email: a.email,
          accountId: a.id,
        });
      }
      // Six assertions were signed (the authenticator's counter is at 6); none reached the server's.
      expect(await storedCount(passkey)).toBe(0);
      expect(await failedAttempts(a)).toBe(0);
      expect(await ceremony(soft, 'first', { ip: INSIDE })).toMatchObject({ ok: true, accountId: a.id });
      expect(await storedCount(passkey)).toBe(7);
    });

    it('locked: 429 with the lock message, the valid passkey included, and the counter does not move', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      for (let i = 0; i < 5; i++) expect(await ceremony(soft, 'first', { lie: { wrongKey: true } })).toMatchObject({ status: 401, failure: 'passkey-refused' });
      expect(await ceremony(soft, 'first')).toEqual({ ok: false, status: 429, error: LOCKED, failure: 'locked', email: a.email, accountId: a.id });
      expect(await storedCount(passkey)).toBe(0);
    });

    it('an answer is used once: the same assertion twice at once passes once; again later, it is refused', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      const uid = randomUUID();
      const options = await services.passkeys.authenticationOptions(bindingOf(uid), { userVerification: 'required' });
      const credential = JSON.stringify(soft.authenticate(options));
      const verdicts = await Promise.all([1, 2].map(() => strategy().verify(stepContext({ uid }), { credential, use: 'first' })));
      expect(verdicts.filter((v) => v.ok)).toHaveLength(1);
      expect(verdicts.find((v) => !v.ok)).toEqual(passkeyRefused(a));
      expect(await strategy().verify(stepContext({ uid }), { credential, use: 'first' })).toMatchObject({ ok: false, failure: 'passkey-refused' });
      // A fresh ceremony of the flow: the old answer does not fit its challenge.
      await services.passkeys.authenticationOptions(bindingOf(uid), { userVerification: 'required' });
      expect(await strategy().verify(stepContext({ uid }), { credential, use: 'first' })).toMatchObject({ ok: false, failure: 'passkey-refused' });
      expect(await storedCount(passkey)).toBe(1);
    });

    it('a counter that went back (a cloned authenticator) is refused as passkey-cloned', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      const twin = soft.clone();
      expect(await ceremony(soft, 'first')).toMatchObject({ ok: true });
      expect(await ceremony(soft, 'first')).toMatchObject({ ok: true });
      expect(await ceremony(twin, 'first')).toEqual({ ok: false, status: 401, error: PASSKEY_CLONED, failure: 'passkey-cloned', email: a.email, accountId: a.id });
      expect(await storedCount(passkey)).toBe(2);
      expect(await failedAttempts(a)).toBe(1);
    });
  });

  describe("'second' (after the password)", () => {
    it('one of the account\'s passkeys is the second factor, amr hwk; user presence suffices', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      const ok = { ok: true, event: { type: 'second-factor', passed: { method: 'passkey', amr: ['hwk'] } } };
      expect(await ceremony(soft, 'second', { known: a })).toEqual(ok);
      expect(await ceremony(soft, 'second', { known: a, lie: { userVerified: false } })).toEqual(ok);
      expect(await storedCount(passkey)).toBe(2);
      // A security key without resident keys or user verification.
      const u2f = await withPasskey(OPEN, { userVerifying: false, residentKeys: false });
      expect(await ceremony(u2f.soft, 'second', { known: u2f.account })).toEqual(ok);
    });

    it('a synced passkey is swk', async () => {
      const { account: a, soft } = await withPasskey(OPEN, { synced: true });
      expect(await ceremony(soft, 'second', { known: a })).toMatchObject({ ok: true, event: { passed: { amr: ['swk'] } } });
    });

    it('another account\'s passkey is refused and counted against the account signing in; the other\'s counter stays', async () => {
      const { account: a } = await withPasskey();
      const other = await withPasskey();
      // The options list a's passkeys; the authenticator answers with other's credential anyway.
      const uid = randomUUID();
      const options = await services.passkeys.authenticationOptions(bindingOf(uid), { allow: await services.passkeys.list(a.id), userVerification: 'preferred' });
      const credential = JSON.stringify(other.soft.authenticate(options, { credentialId: other.passkey.credentialId }));
      expect(await strategy().verify(stepContext({ uid, known: a }), { credential, use: 'second' })).toEqual(passkeyRefused(a));
      expect(await failedAttempts(a)).toBe(1);
      expect(await failedAttempts(other.account)).toBe(0);
      expect(await storedCount(other.passkey)).toBe(0);
    });

    it('an unknown credential is refused', async () => {
      const { account: a } = await withPasskey();
      const stranger = unregistered();
      expect(await ceremony(stranger, 'second', { known: a, lie: { credentialId: stranger.credentials[0]!.id.toString('base64url') } })).toMatchObject({
        ok: false,
        status: 401,
        failure: 'passkey-refused',
        accountId: a.id,
      });
      expect(await failedAttempts(a)).toBe(1);
    });

    it('locked: 429 with the lock message, and the counter does not move', async () => {
      const { account: a, soft, passkey } = await withPasskey();
      for (let i = 0; i < 5; i++) expect(await ceremony(soft, 'second', { known: a, lie: { wrongKey: true } })).toMatchObject({ status: 401 });
      expect(await ceremony(soft, 'second', { known: a })).toEqual({ ok: false, status: 429, error: LOCKED, failure: 'locked', email: a.email, accountId: a.id });
      expect(await storedCount(passkey)).toBe(0);
    });

    it('a counter that went back is refused as passkey-cloned', async () => {
      const { account: a, soft } = await withPasskey();
      const twin = soft.clone();
      expect(await ceremony(soft, 'second', { known: a })).toMatchObject({ ok: true });
      expect(await ceremony(twin, 'second', { known: a })).toMatchObject({ ok: false, status: 401, error: PASSKEY_CLONED, failure: 'passkey-cloned' });
    });
  });
});
