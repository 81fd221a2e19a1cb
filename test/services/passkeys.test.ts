/**
 * PasskeyService on the real stores of the test backend (SQLite; PostgreSQL + Redis when DATABASE_URL
 * and REDIS_URL say so), against a software authenticator that speaks the browser's JSON: ceremonies,
 * single-use challenges bound to a flow, origin and RP ID checks, user verification, counters, and the
 * audit and mail of adding and removing a passkey (through a real SMTP server on loopback).
 */
import { randomUUID } from 'node:crypto';
import { openServices, type Services } from '../../src/services/index.js';
import { PasskeyService, CHALLENGE_TTL_SECONDS } from '../../src/services/passkeys.js';
import type { FactorStore, PasskeyFactor } from '../../src/stores/factors.js';
import type { AccountRecord } from '../../src/stores/sql/accounts.js';
import { testBackend } from '../helpers/backend.js';
import { clock } from '../helpers/clock.js';
import { TestSmtpServer } from '../helpers/smtp.js';
import { SoftAuthenticator, type Ceremony, type SoftAuthenticatorOptions } from '../helpers/soft-authenticator.js';

const ISSUER = 'https://id.example.com';
const ORIGIN = ISSUER;
const backend = testBackend();
const smtp = new TestSmtpServer();
const request = { ip: '203.0.113.9', userAgent: 'jest' };
let services: Services;
let passkeys: PasskeyService;
let factors: FactorStore;
let n = 0;
let bindings = 0;

beforeAll(async () => {
  await smtp.start();
  services = await openServices(backend.config({ ISSUER, SMTP_URL: smtp.url, ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }));
  passkeys = services.passkeys;
  factors = services.factorStore;
});
afterAll(async () => {
  await services.close();
  await smtp.stop();
  await backend.cleanup();
});

const account = (organizationId?: string) => services.accounts.create({ email: `pk${++n}@passkeys.example`, password: 'Right-Pass-1', organizationId });
const binding = () => `test:${Date.now()}:${++bindings}`;
const authenticator = (options: Partial<SoftAuthenticatorOptions> = {}) => new SoftAuthenticator({ origin: ORIGIN, ...options });
const self = (user: AccountRecord) => ({ type: 'user' as const, id: user.id });
/** A PasskeyService like the wired one, with other settings. */
const serviceWith = (options: { origins?: string[]; rpId?: string; challengeTtlSeconds?: number }) =>
  new PasskeyService({
    factors,
    store: services.oidcStore,
    policies: services.policies,
    audit: services.audit,
    mail: services.mail,
    webauthn: { rpId: options.rpId ?? 'id.example.com', rpName: 'Gatehouse', origins: options.origins ?? [ORIGIN] },
    challengeTtlSeconds: options.challengeTtlSeconds,
  });

/** Registration options, the authenticator's answer, the verdict (not stored). */
async function register(user: AccountRecord, soft: SoftAuthenticator, lie: Ceremony = {}, service = passkeys) {
  const b = binding();
  const options = await service.registrationOptions(user, b, await service.list(user.id));
  return service.verifyRegistration(user, b, soft.register(options, lie));
}

/** Registers a passkey of `soft` for `user` and stores it (as the account page would). */
async function enroll(user: AccountRecord, soft: SoftAuthenticator, service = passkeys): Promise<PasskeyFactor> {
  const result = await register(user, soft, {}, service);
  if (!result.ok) throw new Error(`registration refused: ${result.reason}`);
  expect(await service.addPasskey(user, result.factor, {}, self(user), request)).toBe(true);
  return result.factor;
}

interface SignIn {
  allow?: PasskeyFactor[];
  accountId?: string;
  uv?: 'required' | 'preferred';
  requireUserVerification?: boolean;
  lie?: Ceremony;
}

/** One authentication ceremony: options for a fresh binding, the authenticator's answer, the verdict. */
async function signIn(soft: SoftAuthenticator, opts: SignIn = {}, service = passkeys) {
  const b = binding();
  const options = await service.authenticationOptions(b, { allow: opts.allow, userVerification: opts.uv ?? 'required' });
  return service.verifyAuthentication(b, soft.authenticate(options, opts.lie), {
    accountId: opts.accountId,
    requireUserVerification: opts.requireUserVerification ?? true,
  });
}

const storedCount = async (p: PasskeyFactor) => (await factors.findPasskey(p.credentialId))!.signCount;

describe('registration', () => {
  it('offers options bound to the RP and the account, and verifies a new passkey without storing it', async () => {
    const user = await account();
    const b = binding();
    const options = await passkeys.registrationOptions(user, b, []);
    expect(options).toMatchObject({
      rp: { id: 'id.example.com', name: 'Gatehouse' },
      user: { id: Buffer.from(user.id).toString('base64url'), name: user.email },
      attestation: 'none',
      excludeCredentials: [],
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      timeout: CHALLENGE_TTL_SECONDS * 1000,
    });
    expect(options.pubKeyCredParams.map((p) => p.alg)).toContain(-7);
    const soft = authenticator();
    const answer = soft.register(options);
    const result = await passkeys.verifyRegistration(user, b, answer);
    expect(result).toEqual({
      ok: true,
      factor: expect.objectContaining({
        kind: 'passkey',
        accountId: user.id,
        credentialId: answer.id,
        signCount: 0,
        transports: ['usb'],
        deviceType: 'singleDevice',
        backedUp: false,
        userVerified: true,
        lastUsedAt: null,
        label: 'Security key',
      }),
    });
    if (!result.ok) return;
    expect(result.factor.aaguid).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.factor.publicKey).toBe(soft.credentials[0]!.cosePublicKey.toString('base64url'));
    expect(await passkeys.list(user.id)).toEqual([]); // verifyRegistration stores nothing
  });

  it('names a synced passkey "Passkey", takes a given name, and records a key without user verification as such', async () => {
    const user = await account();
    const synced = await register(user, authenticator({ synced: true }));
    expect(synced).toMatchObject({ ok: true, factor: { label: 'Passkey', deviceType: 'multiDevice', backedUp: true } });
    const b = binding();
    const named = await passkeys.verifyRegistration(user, b, authenticator().register(await passkeys.registrationOptions(user, b, [])), { label: '  Desk\nkey ' });
    expect(named).toMatchObject({ ok: true, factor: { label: 'Desk key' } });
    const u2f = await register(user, authenticator({ userVerifying: false, residentKeys: false }));
    expect(u2f).toMatchObject({ ok: true, factor: { userVerified: false } });
  });

  it('refuses an answer from another origin, for another RP ID, without user presence, or of the wrong type', async () => {
    const user = await account();
    expect(await register(user, authenticator(), { origin: 'https://id.example.com.evil.example' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator(), { origin: 'http://id.example.com' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator(), { rpId: 'evil.example' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator(), { rpId: 'example.com' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator(), { userAbsent: true })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator(), { type: 'webauthn.get' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await register(user, authenticator())).toMatchObject({ ok: true }); // the same, told the truth
  });

  it('accepts every configured origin and no other', async () => {
    const user = await account();
    const service = serviceWith({ rpId: 'example.com', origins: ['https://id.example.com', 'https://login.example.com'] });
    expect(await register(user, new SoftAuthenticator({ origin: 'https://login.example.com' }), {}, service)).toMatchObject({ ok: true });
    expect(await register(user, new SoftAuthenticator({ origin: 'https://id.example.com' }), {}, service)).toMatchObject({ ok: true });
    expect(await register(user, new SoftAuthenticator({ origin: 'https://www.example.com' }), {}, service)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('uses a challenge once, for the account it was issued to', async () => {
    const [user, other] = [await account(), await account()];
    const b = binding();
    const answer = authenticator().register(await passkeys.registrationOptions(user, b, []));
    expect(await passkeys.verifyRegistration(other, b, answer)).toEqual({ ok: false, reason: 'challenge' });
    // That try used it up, even for the right account.
    expect(await passkeys.verifyRegistration(user, b, answer)).toEqual({ ok: false, reason: 'challenge' });
    const b2 = binding();
    const answer2 = authenticator().register(await passkeys.registrationOptions(user, b2, []));
    expect(await passkeys.verifyRegistration(user, b2, answer2)).toMatchObject({ ok: true });
    expect(await passkeys.verifyRegistration(user, b2, answer2)).toEqual({ ok: false, reason: 'challenge' });
    // Options asked again replace the outstanding challenge: an answer to the older ones is stale.
    const b3 = binding();
    const older = await passkeys.registrationOptions(user, b3, []);
    await passkeys.registrationOptions(user, b3, []);
    expect(await passkeys.verifyRegistration(user, b3, authenticator().register(older))).toEqual({ ok: false, reason: 'challenge' });
  });

  it('lists the account\'s passkeys in excludeCredentials, so an authenticator does not register twice', async () => {
    const user = await account();
    const soft = authenticator();
    const first = await enroll(user, soft);
    const second = await enroll(user, authenticator({ synced: true }));
    const options = await passkeys.registrationOptions(user, binding(), await passkeys.list(user.id));
    expect(options.excludeCredentials).toHaveLength(2);
    expect(options.excludeCredentials).toEqual(
      expect.arrayContaining([
        { id: first.credentialId, type: 'public-key', transports: ['usb'] },
        { id: second.credentialId, type: 'public-key', transports: ['hybrid', 'internal'] },
      ]),
    );
    expect(() => soft.register(options)).toThrow(/InvalidStateError/);
    // Another account's passkeys are not its business.
    expect((await passkeys.registrationOptions(await account(), binding(), await passkeys.list((await account()).id))).excludeCredentials).toEqual([]);
  });
});

describe('authentication', () => {
  it('round trip: a second factor for the account, then password-less; the counter moves on', async () => {
    const user = await account();
    const soft = authenticator();
    const passkey = await enroll(user, soft);
    const b = binding();
    const options = await passkeys.authenticationOptions(b, { allow: [passkey], userVerification: 'preferred' });
    expect(options).toMatchObject({ rpId: 'id.example.com', userVerification: 'preferred', allowCredentials: [{ id: passkey.credentialId, type: 'public-key', transports: ['usb'] }] });
    const before = Math.floor(Date.now() / 1000);
    const result = await passkeys.verifyAuthentication(b, soft.authenticate(options), { accountId: user.id, requireUserVerification: false });
    expect(result).toEqual({ ok: true, factor: expect.objectContaining({ id: passkey.id, accountId: user.id, signCount: 1 }), userVerified: true, amr: 'hwk' });
    const row = (await factors.findPasskey(passkey.credentialId))!;
    expect(row.signCount).toBe(1);
    expect(row.lastUsedAt).toBeGreaterThanOrEqual(before);

    // Password-less: no allow list (a discoverable credential), verification required.
    const b2 = binding();
    const discoverable = await passkeys.authenticationOptions(b2, { userVerification: 'required' });
    expect(discoverable.allowCredentials).toBeUndefined();
    expect(discoverable.userVerification).toBe('required');
    const again = await passkeys.verifyAuthentication(b2, soft.authenticate(discoverable), { requireUserVerification: true });
    expect(again).toMatchObject({ ok: true, factor: { id: passkey.id, accountId: user.id, signCount: 2 }, userVerified: true });
    expect(await storedCount(passkey)).toBe(2);
  });

  it('amr: hwk for a device-bound key, swk for a synced passkey', async () => {
    const user = await account();
    const hardware = authenticator();
    const synced = authenticator({ synced: true });
    await enroll(user, hardware);
    await enroll(user, synced);
    expect(await signIn(hardware)).toMatchObject({ ok: true, amr: 'hwk', factor: { deviceType: 'singleDevice' } });
    expect(await signIn(synced)).toMatchObject({ ok: true, amr: 'swk', factor: { deviceType: 'multiDevice', backedUp: true } });
  });

  it('refuses another origin and another RP ID, and does not count them', async () => {
    const user = await account();
    const soft = authenticator();
    const passkey = await enroll(user, soft);
    expect(await signIn(soft, { lie: { origin: 'https://evil.example' } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { origin: 'https://id.example.com:8443' } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { rpId: 'evil.example' } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { rpId: 'example.com' } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { type: 'webauthn.create' } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { wrongKey: true } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft, { lie: { userAbsent: true }, requireUserVerification: false })).toEqual({ ok: false, reason: 'invalid' });
    expect(await storedCount(passkey)).toBe(0);
    expect(await signIn(soft)).toMatchObject({ ok: true }); // told the truth, it counts (the counter is now 8: lies advanced it too)
    expect(await storedCount(passkey)).toBe(8);
  });

  it('refuses a discoverable answer whose user handle is not the passkey\'s owner', async () => {
    const [user, other] = [await account(), await account()];
    const soft = authenticator();
    await enroll(user, soft);
    expect(await signIn(soft, { lie: { userHandle: Buffer.from(other.id).toString('base64url') } })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(soft)).toMatchObject({ ok: true, factor: { accountId: user.id } });
  });

  it('user verification: required when a passkey alone signs in, not as a second factor', async () => {
    const user = await account();
    // A U2F-style security key: no PIN, no resident key.
    const key = authenticator({ userVerifying: false, residentKeys: false });
    const passkey = await enroll(user, key);
    expect(passkey.userVerified).toBe(false);
    expect(await signIn(key, { allow: [passkey], accountId: user.id, uv: 'preferred', requireUserVerification: false })).toMatchObject({
      ok: true,
      userVerified: false,
    });
    expect(await signIn(key, { allow: [passkey], uv: 'required', requireUserVerification: true })).toEqual({ ok: false, reason: 'invalid' });
    // A verifying authenticator that skipped verification this time.
    const platform = authenticator();
    await enroll(user, platform);
    expect(await signIn(platform, { lie: { userVerified: false }, requireUserVerification: true })).toEqual({ ok: false, reason: 'invalid' });
    expect(await signIn(platform, { lie: { userVerified: false }, requireUserVerification: false })).toMatchObject({ ok: true, userVerified: false });
    expect(await signIn(platform, { requireUserVerification: true })).toMatchObject({ ok: true, userVerified: true });
  });

  it('refuses a counter that does not move forward (a cloned credential) and leaves the counter where it was', async () => {
    const user = await account();
    const soft = authenticator();
    const passkey = await enroll(user, soft);
    expect(await signIn(soft)).toMatchObject({ ok: true, factor: { signCount: 1 } });
    const clone = soft.clone(); // counter 1
    expect(await signIn(soft)).toMatchObject({ ok: true });
    expect(await signIn(soft)).toMatchObject({ ok: true });
    expect(await storedCount(passkey)).toBe(3);
    expect(await signIn(clone)).toEqual({ ok: false, reason: 'counter-regression' }); // reports 2
    expect(await signIn(clone)).toEqual({ ok: false, reason: 'counter-regression' }); // reports 3: equal is no advance
    expect(await signIn(soft, { lie: { counter: 0 } })).toEqual({ ok: false, reason: 'counter-regression' });
    expect(await storedCount(passkey)).toBe(3);
    expect(await signIn(clone)).toMatchObject({ ok: true, factor: { signCount: 4 } }); // the clone got ahead: indistinguishable
    expect(await signIn(soft)).toEqual({ ok: false, reason: 'counter-regression' }); // the original, now behind, is refused
    expect(await storedCount(passkey)).toBe(4);
  });

  it('accepts an authenticator without a counter (always 0), every time', async () => {
    const user = await account();
    const soft = authenticator({ synced: true, counterStep: 0 });
    const passkey = await enroll(user, soft);
    for (let i = 0; i < 3; i++) expect(await signIn(soft)).toMatchObject({ ok: true, factor: { signCount: 0 } });
    expect(await storedCount(passkey)).toBe(0);
  });

  it('refuses an unknown credential, and another account\'s when the account is known', async () => {
    const [user, other] = [await account(), await account()];
    const stray = authenticator();
    expect(await register(user, stray)).toMatchObject({ ok: true }); // verified but never stored
    expect(await signIn(stray)).toEqual({ ok: false, reason: 'unknown-credential' });
    const soft = authenticator();
    const passkey = await enroll(other, soft);
    expect(await signIn(soft, { accountId: user.id, requireUserVerification: false, uv: 'preferred' })).toEqual({ ok: false, reason: 'wrong-account' });
    expect(await storedCount(passkey)).toBe(0);
    expect(await signIn(soft, { accountId: other.id })).toMatchObject({ ok: true, factor: { accountId: other.id } });
    expect(await signIn(soft)).toMatchObject({ ok: true, factor: { accountId: other.id } });
  });
});

describe('challenges', () => {
  let user: AccountRecord;
  let soft: SoftAuthenticator;
  beforeAll(async () => {
    user = await account();
    soft = authenticator();
    await enroll(user, soft);
  });

  it('a challenge answers once', async () => {
    const b = binding();
    const answer = soft.authenticate(await passkeys.authenticationOptions(b, { userVerification: 'required' }));
    expect(await passkeys.verifyAuthentication(b, answer, { requireUserVerification: true })).toMatchObject({ ok: true });
    expect(await passkeys.verifyAuthentication(b, answer, { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
  });

  it('of N simultaneous verifications of one answer, exactly one succeeds', async () => {
    const b = binding();
    const answer = soft.authenticate(await passkeys.authenticationOptions(b, { userVerification: 'required' }));
    const results = await Promise.all(Array.from({ length: 8 }, () => passkeys.verifyAuthentication(b, answer, { requireUserVerification: true })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 7 }, () => ({ ok: false, reason: 'challenge' })));
  });

  it('a failed answer uses the challenge up too', async () => {
    const b = binding();
    const options = await passkeys.authenticationOptions(b, { userVerification: 'required' });
    expect(await passkeys.verifyAuthentication(b, soft.authenticate(options, { wrongKey: true }), { requireUserVerification: true })).toEqual({ ok: false, reason: 'invalid' });
    expect(await passkeys.verifyAuthentication(b, soft.authenticate(options), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    expect(await passkeys.verifyAuthentication(b, 'garbage', { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
  });

  it('is bound to its flow: another binding\'s challenge is refused (and that binding\'s own is used up)', async () => {
    const [a, b] = [binding(), binding()];
    const forA = await passkeys.authenticationOptions(a, { userVerification: 'required' });
    const forB = await passkeys.authenticationOptions(b, { userVerification: 'required' });
    expect(await passkeys.verifyAuthentication(b, soft.authenticate(forA), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    expect(await passkeys.verifyAuthentication(b, soft.authenticate(forB), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    expect(await passkeys.verifyAuthentication(a, soft.authenticate(forA), { requireUserVerification: true })).toMatchObject({ ok: true });
    // A binding nobody asked options for.
    expect(await passkeys.verifyAuthentication(binding(), soft.authenticate(forA), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
  });

  it('a new options call replaces the outstanding challenge of the binding', async () => {
    const b = binding();
    const old = await passkeys.authenticationOptions(b, { userVerification: 'required' });
    const current = await passkeys.authenticationOptions(b, { userVerification: 'required' });
    expect(current.challenge).not.toBe(old.challenge);
    expect(await passkeys.verifyAuthentication(b, soft.authenticate(old), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    const b2 = binding();
    await passkeys.authenticationOptions(b2, { userVerification: 'required' });
    const current2 = await passkeys.authenticationOptions(b2, { userVerification: 'required' });
    expect(await passkeys.verifyAuthentication(b2, soft.authenticate(current2), { requireUserVerification: true })).toMatchObject({ ok: true });
  });

  it('a registration challenge does not answer an authentication, nor the reverse', async () => {
    const b = binding();
    const creation = await passkeys.registrationOptions(user, b, []);
    const forged = soft.authenticate({ challenge: creation.challenge, rpId: 'id.example.com', userVerification: 'required' });
    expect(await passkeys.verifyAuthentication(b, forged, { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    const b2 = binding();
    const request = await passkeys.authenticationOptions(b2, { userVerification: 'required' });
    const creation2 = await passkeys.registrationOptions(user, binding(), []);
    const answer = authenticator().register({ ...creation2, challenge: request.challenge });
    expect(await passkeys.verifyRegistration(user, b2, answer)).toEqual({ ok: false, reason: 'challenge' });
  });

  describe('expiry', () => {
    afterEach(() => clock.uninstall());

    it(`a challenge expires after ${CHALLENGE_TTL_SECONDS} seconds`, async () => {
      clock.install();
      const [early, late] = [binding(), binding()];
      const forEarly = await passkeys.authenticationOptions(early, { userVerification: 'required' });
      const forLate = await passkeys.authenticationOptions(late, { userVerification: 'required' });
      clock.advance(CHALLENGE_TTL_SECONDS - 5);
      expect(await passkeys.verifyAuthentication(early, soft.authenticate(forEarly), { requireUserVerification: true })).toMatchObject({ ok: true });
      clock.advance(6);
      expect(await passkeys.verifyAuthentication(late, soft.authenticate(forLate), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    });

    it('a registration challenge too', async () => {
      clock.install();
      const b = binding();
      const options = await passkeys.registrationOptions(user, b, []);
      clock.advance(CHALLENGE_TTL_SECONDS + 1);
      expect(await passkeys.verifyRegistration(user, b, authenticator().register(options))).toEqual({ ok: false, reason: 'challenge' });
    });

    it('in real time, with a short lifetime (the store forgets it)', async () => {
      const service = serviceWith({ challengeTtlSeconds: 1 });
      const b = binding();
      const options = await service.authenticationOptions(b, { userVerification: 'required' });
      await new Promise((r) => setTimeout(r, 2100));
      expect(await services.oidcStore.find('WebAuthnChallenge', b)).toBeUndefined();
      expect(await service.verifyAuthentication(b, soft.authenticate(options), { requireUserVerification: true })).toEqual({ ok: false, reason: 'challenge' });
    });
  });
});

describe('adding, removing and renaming', () => {
  const eventsFor = async (userId: string, type: string) => (await services.audit.list({ types: [type], limit: 100 })).filter((e) => e.targetId === userId);

  it('adding a passkey is audited (actor, organization, target) and mailed to the user', async () => {
    const org = await services.organizations.create(`Passkey Org ${++n}`, { type: 'system', id: 'test' });
    const user = await account(org.id);
    const since = smtp.received.length;
    const result = await register(user, authenticator());
    if (!result.ok) throw new Error(result.reason);
    expect(await passkeys.addPasskey(user, result.factor, {}, self(user), request)).toBe(true);
    expect(await eventsFor(user.id, 'two_factor.passkey_added')).toEqual([
      expect.objectContaining({
        actorType: 'user',
        actorId: user.id,
        organizationId: org.id,
        targetType: 'user',
        targetId: user.id,
        ip: request.ip,
        data: expect.objectContaining({ factorId: result.factor.id, label: 'Security key', deviceType: 'singleDevice' }),
      }),
    ]);
    const mail = await smtp.waitFor((m) => m.to === user.email, since);
    expect(mail.subject).toBe('Gatehouse: A passkey was added');
    expect(mail.text).toContain('"Security key"');
    expect(mail.text).toContain(request.ip);
    expect(await passkeys.list(user.id)).toEqual([expect.objectContaining({ id: result.factor.id, credentialId: result.factor.credentialId })]);
  });

  it('a first passkey under enforcement is stored only at an unchanged generation, and a refusal is neither audited nor mailed', async () => {
    const user = await account();
    const generation = await factors.generation(user.id);
    const [a, b] = [await register(user, authenticator()), await register(user, authenticator())];
    if (!a.ok || !b.ok) throw new Error('registration refused');
    const since = smtp.received.length;
    expect(await passkeys.addPasskey(user, a.factor, { first: generation }, self(user), request)).toBe(true);
    expect(await passkeys.addPasskey(user, b.factor, { first: generation }, self(user), request)).toBe(false);
    expect((await passkeys.list(user.id)).map((p) => p.id)).toEqual([a.factor.id]);
    expect(await eventsFor(user.id, 'two_factor.passkey_added')).toHaveLength(1);
    await smtp.waitFor((m) => m.to === user.email, since);
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.to(user.email)).toHaveLength(1);
    // The same credential again, and another account's factor, are refused.
    expect(await passkeys.addPasskey(user, { ...a.factor, id: 'another-id' }, {}, self(user), request)).toBe(false);
    const other = await account();
    expect(await passkeys.addPasskey(other, b.factor, {}, self(other), request)).toBe(false);
  });

  it('removing a passkey is audited and mailed; the last factor stays when one is required; another account\'s is gone', async () => {
    const user = await account();
    const [first, second] = [await enroll(user, authenticator()), await enroll(user, authenticator({ synced: true }))];
    const admin = { type: 'client' as const, id: 'admin-client' };
    const since = smtp.received.length;
    expect(await passkeys.removePasskey(user, first.id, { keepOne: true }, admin, request)).toBe('removed');
    expect(await passkeys.removePasskey(user, second.id, { keepOne: true }, self(user), request)).toBe('last');
    expect(await passkeys.removePasskey(user, first.id, { keepOne: false }, self(user), request)).toBe('gone');
    const other = await account();
    expect(await passkeys.removePasskey(other, second.id, { keepOne: false }, self(other), request)).toBe('gone');
    expect((await passkeys.list(user.id)).map((p) => p.id)).toEqual([second.id]);
    expect(await eventsFor(user.id, 'two_factor.passkey_removed')).toEqual([
      expect.objectContaining({ actorType: 'client', actorId: 'admin-client', targetId: user.id, data: expect.objectContaining({ factorId: first.id, label: 'Security key' }) }),
    ]);
    const mail = await smtp.waitFor((m) => m.to === user.email && /removed/.test(m.subject), since);
    expect(mail.subject).toBe('Gatehouse: A passkey was removed');
    expect(mail.text).toContain('by an administrator');
    // A removed passkey no longer signs in.
    expect(await passkeys.removePasskey(user, second.id, { keepOne: false }, self(user), request)).toBe('removed');
    expect(await eventsFor(user.id, 'two_factor.passkey_removed')).toHaveLength(2);
  });

  it('removes and renames passkeys only: a TOTP factor is not theirs to touch', async () => {
    const user = await account();
    const passkey = await enroll(user, authenticator());
    const totp = { kind: 'totp' as const, id: randomUUID(), accountId: user.id, label: 'Authenticator app', createdAt: 1, lastUsedAt: null, secret: 'sealed', lastStep: null };
    expect(await factors.add(totp)).toBe(true);
    expect(await passkeys.removePasskey(user, totp.id, { keepOne: false }, self(user), request)).toBe('gone');
    expect(await passkeys.renamePasskey(user, totp.id, 'Renamed')).toBe(false);
    expect((await factors.listByAccount(user.id)).map((f) => [f.id, f.label]).sort()).toEqual([[passkey.id, 'Security key'], [totp.id, 'Authenticator app']].sort());
    expect((await passkeys.list(user.id)).map((p) => p.id)).toEqual([passkey.id]);
  });

  it('a removed passkey no longer signs in', async () => {
    const user = await account();
    const soft = authenticator();
    const passkey = await enroll(user, soft);
    expect(await passkeys.removePasskey(user, passkey.id, { keepOne: false }, self(user), request)).toBe('removed');
    expect(await signIn(soft)).toEqual({ ok: false, reason: 'unknown-credential' });
  });

  it('renames one of the account\'s passkeys, to a clean one-line name', async () => {
    const user = await account();
    const passkey = await enroll(user, authenticator());
    expect(await passkeys.renamePasskey(user, passkey.id, ' Yubi\u0000Key \t5 ')).toBe(true);
    expect((await passkeys.list(user.id))[0]?.label).toBe('Yubi Key 5');
    expect(await passkeys.renamePasskey(user, passkey.id, '   ')).toBe(false);
    expect(await passkeys.renamePasskey(user, passkey.id, 'x'.repeat(100))).toBe(true);
    expect((await passkeys.list(user.id))[0]?.label).toBe('x'.repeat(64));
    const other = await account();
    expect(await passkeys.renamePasskey(other, passkey.id, 'Mine now')).toBe(false);
    expect((await passkeys.list(user.id))[0]?.label).toBe('x'.repeat(64));
  });
});
