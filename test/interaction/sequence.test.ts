import { amrOf, CHECKS, nextStep, passwordChangeForced, record, type AccountFacts, type Established, type SignInEvent } from '../../src/interaction/sequence.js';

const NOW = 1_800_000_000;
const DAY = 86_400;
const facts = (over: Partial<AccountFacts> = {}): AccountFacts => ({
  factors: { totp: false, passkeys: 0 },
  enforce2fa: false,
  mustChangePassword: false,
  passwordExpiresAt: null,
  now: NOW,
  warningDays: 14,
  ...over,
});
const pwd: Established = { first: { method: 'password', amr: ['pwd'], multiFactor: false } };
const passkeyAlone: Established = { first: { method: 'passkey', amr: ['hwk'], multiFactor: true } };
const passkeyNoUv: Established = { first: { method: 'passkey', amr: ['hwk'], multiFactor: false } };
const totpDone: Established = { ...pwd, second: { method: 'totp', amr: ['otp'] } };
const TOTP = { totp: true, passkeys: 0 };
const PASSKEY = { totp: false, passkeys: 2 };
const BOTH = { totp: true, passkeys: 1 };
const expired = { passwordExpiresAt: NOW - 1 };
const expiresToday = { passwordExpiresAt: NOW };
const expiring = { passwordExpiresAt: NOW + 3 * DAY };
const farOff = { passwordExpiresAt: NOW + 30 * DAY };

describe('nextStep: the sign-in sequence as a table', () => {
  it.each<[string, Established, Partial<AccountFacts>, string]>([
    ['nothing yet: the password page (which also offers a passkey)', {}, {}, 'password'],
    ['nothing yet, even with factors and enforcement', {}, { factors: BOTH, enforce2fa: true }, 'password'],
    ['password, no factor, not enforced: done', pwd, {}, 'done'],
    ['password, no factor, enforced: set one up (passkey offered first)', pwd, { enforce2fa: true }, 'enroll'],
    ['password, no factor, enforced, chose the app', { ...pwd, enrollChoice: 'totp' }, { enforce2fa: true }, 'enroll-totp'],
    ['password, TOTP, not enforced: still asked', pwd, { factors: TOTP }, 'totp'],
    ['password, TOTP, enforced', pwd, { factors: TOTP, enforce2fa: true }, 'totp'],
    ['password, passkeys: the passkey first', pwd, { factors: PASSKEY }, 'passkey'],
    ['password, passkey and TOTP: the passkey first', pwd, { factors: BOTH }, 'passkey'],
    ['password, passkey and TOTP, chose the app', { ...pwd, secondChoice: 'totp' }, { factors: BOTH }, 'totp'],
    ['password, passkey and TOTP, chose a recovery code', { ...pwd, secondChoice: 'recovery-code' }, { factors: BOTH }, 'recovery-code'],
    ['password, passkey only, chose the app it lacks: recovery code', { ...pwd, secondChoice: 'totp' }, { factors: PASSKEY }, 'recovery-code'],
    ['password, TOTP only, chose a passkey it lacks: recovery code', { ...pwd, secondChoice: 'passkey' }, { factors: TOTP }, 'recovery-code'],
    ['password + TOTP passed: done', totpDone, { factors: TOTP, enforce2fa: true }, 'done'],
    ['passkey with user verification: both factors, done', passkeyAlone, { factors: BOTH, enforce2fa: true }, 'done'],
    ['passkey without user verification: a second factor still asked', passkeyNoUv, { factors: BOTH }, 'passkey'],
    ['enrolled now: recovery codes shown', { ...pwd, second: { method: 'totp', amr: ['otp'] }, enrolled: true }, { factors: TOTP, enforce2fa: true }, 'recovery-codes'],
    ['enrolled now, codes kept: done', { ...pwd, second: { method: 'passkey', amr: ['hwk'] }, enrolled: true, recoveryCodesKept: true }, { factors: PASSKEY, enforce2fa: true }, 'done'],
    ['password expired: change it', pwd, expired, 'change-password'],
    ['password expires this second: expired', pwd, expiresToday, 'change-password'],
    ['admin asked for a new password: change it', pwd, { mustChangePassword: true }, 'change-password'],
    ['expired, after the second factor only', pwd, { ...expired, factors: TOTP }, 'totp'],
    ['expired, second factor passed: change it', totpDone, { ...expired, factors: TOTP }, 'change-password'],
    ['expired, codes first, then the change', { ...totpDone, enrolled: true }, { ...expired, factors: TOTP }, 'recovery-codes'],
    ['expired, changed: done', { ...pwd, passwordSettled: true }, expired, 'done'],
    ['passkey sign-in, password expired: told, not forced', passkeyAlone, { ...expired, factors: PASSKEY }, 'expiry-warning'],
    ['passkey sign-in, password required by admin: told, not forced', passkeyAlone, { mustChangePassword: true, factors: PASSKEY }, 'expiry-warning'],
    ['passkey sign-in, expired, chose to change', { ...passkeyAlone, changePasswordChosen: true }, { ...expired, factors: PASSKEY }, 'change-password'],
    ['passkey sign-in, expired, carried on', { ...passkeyAlone, passwordSettled: true }, { ...expired, factors: PASSKEY }, 'done'],
    ['expires within the warning days: warned', pwd, expiring, 'expiry-warning'],
    ['expires in exactly the warning days: warned', pwd, { passwordExpiresAt: NOW + 14 * DAY }, 'expiry-warning'],
    ['expires later than the warning days: done', pwd, farOff, 'done'],
    ['warned, chose to change now', { ...pwd, changePasswordChosen: true }, expiring, 'change-password'],
    ['warned, carried on: done', { ...pwd, passwordSettled: true }, expiring, 'done'],
  ])('%s', (_label, established, over, expected) => {
    expect(nextStep(established, facts(over)).step).toBe(expected);
  });

  it('every check has its own name (it is what a log or a debugger shows)', () => {
    const names = CHECKS.map((c) => c.name);
    expect(names.every((n) => n.length > 10)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('names the check that asked for the step', () => {
    expect(nextStep(pwd, facts({ enforce2fa: true }))).toEqual({ step: 'enroll', check: CHECKS[1]!.name });
  });
});

describe('passwordChangeForced', () => {
  it.each<[string, Established, Partial<AccountFacts>, boolean]>([
    ['password sign-in, expired', pwd, expired, true],
    ['password sign-in, required', pwd, { mustChangePassword: true }, true],
    ['password sign-in, expiring: may skip', pwd, expiring, false],
    ['passkey sign-in, expired: may skip', passkeyAlone, expired, false],
  ])('%s', (_label, e, over, expected) => {
    expect(passwordChangeForced(e, facts(over))).toBe(expected);
  });
});

describe('record: events fold into what the flow established', () => {
  const steps = (events: SignInEvent[]) => events.reduce(record, {} as Established);

  it('a new first factor starts afresh', () => {
    const e = steps([
      { type: 'first-factor', passed: pwd.first! },
      { type: 'second-factor-chosen', method: 'totp' },
      { type: 'first-factor', passed: passkeyAlone.first! },
    ]);
    expect(e).toEqual({ first: passkeyAlone.first });
  });

  it.each<[string, SignInEvent, Established]>([
    ['a second factor', { type: 'second-factor', passed: { method: 'totp', amr: ['otp'] } }, { ...pwd, second: { method: 'totp', amr: ['otp'] } }],
    ['another method chosen', { type: 'second-factor-chosen', method: 'recovery-code' }, { ...pwd, secondChoice: 'recovery-code' }],
    ['the app chosen for enrollment', { type: 'enrollment-chosen', method: 'totp' }, { ...pwd, enrollChoice: 'totp' }],
    ['the codes kept', { type: 'recovery-codes-kept' }, { ...pwd, recoveryCodesKept: true }],
    ['an early change chosen', { type: 'change-password-chosen' }, { ...pwd, changePasswordChosen: true }],
    ['the password settled', { type: 'password-settled' }, { ...pwd, passwordSettled: true }],
  ])('records %s, keeping the first factor', (_label, event, expected) => {
    expect(record(pwd, event)).toEqual(expected);
  });

  it('an enrollment passes the second step and asks for the codes to be kept', () => {
    const e = steps([
      { type: 'first-factor', passed: pwd.first! },
      { type: 'enrollment-chosen', method: 'totp' },
      { type: 'enrolled', passed: { method: 'totp', amr: ['otp'] } },
    ]);
    expect(e).toEqual({ first: pwd.first, second: { method: 'totp', amr: ['otp'] }, enrolled: true, enrollChoice: undefined });
    expect(nextStep(e, facts({ factors: TOTP, enforce2fa: true })).step).toBe('recovery-codes');
    expect(nextStep(record(e, { type: 'recovery-codes-kept' }), facts({ factors: TOTP, enforce2fa: true })).step).toBe('done');
  });
});

describe('amrOf (RFC 8176)', () => {
  it.each<[string, Established, string[]]>([
    ['password alone', pwd, ['pwd']],
    ['password + TOTP', totpDone, ['pwd', 'otp', 'mfa']],
    ['password + recovery code', { ...pwd, second: { method: 'recovery-code', amr: ['otp'] } }, ['pwd', 'otp', 'mfa']],
    ['password + hardware-bound passkey', { ...pwd, second: { method: 'passkey', amr: ['hwk'] } }, ['pwd', 'hwk', 'mfa']],
    ['password + synced passkey', { ...pwd, second: { method: 'passkey', amr: ['swk'] } }, ['pwd', 'swk', 'mfa']],
    ['passkey alone with user verification', passkeyAlone, ['hwk', 'mfa']],
    ['synced passkey alone with user verification', { first: { method: 'passkey', amr: ['swk'], multiFactor: true } }, ['swk', 'mfa']],
    ['nothing', {}, []],
  ])('%s', (_label, e, expected) => {
    expect(amrOf(e)).toEqual(expected);
  });
});
