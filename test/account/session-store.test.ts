import { migrate, nowSeconds, openDb } from '../../src/stores/db.js';
import { RedisOidcStore } from '../../src/stores/redis/oidc-store.js';
import { SqlOidcStore } from '../../src/stores/sql/oidc-store.js';
import { AuditStore } from '../../src/stores/sql/audit.js';
import { AuditService } from '../../src/services/audit.js';
import { handleOf, SessionService } from '../../src/services/sessions.js';
import { SESSION_DEVICE_MODEL, type OidcStore } from '../../src/stores/oidc-store.js';
import { connectRedis, dropRedisPrefix, migratedDb, REDIS_URL, sqlBackends, type TestBackend } from '../helpers/backend.js';

/**
 * The account center's sessions and devices (SessionService over the per-account index) on every
 * artifact store, and the per-user audit query on every SQL database.
 */
interface Opened {
  store: OidcStore;
  close(): Promise<void>;
}

async function openSql(backend: TestBackend): Promise<Opened> {
  const { database } = backend.config();
  const db = openDb(database);
  await migrate(db, database);
  return { store: new SqlOidcStore(db), close: async () => (await db.destroy(), await backend.cleanup()) };
}

const stores: Array<[string, () => Promise<Opened>]> = sqlBackends().map(([name, backend]) => [`SQL on ${name}`, () => openSql(backend())]);
if (REDIS_URL) {
  stores.push([
    'Redis',
    async () => {
      const prefix = `gh:sessions:${process.pid}:${Date.now()}:`;
      const redis = await connectRedis(REDIS_URL!);
      return { store: new RedisOidcStore(redis, prefix), close: async () => (await redis.quit(), await dropRedisPrefix(REDIS_URL!, prefix)) };
    },
  ]);
}

describe.each(stores)('sessions and devices on %s', (_name, open) => {
  let opened: Opened;
  let store: OidcStore;
  let sessions: SessionService;
  beforeEach(async () => {
    opened = await open();
    store = opened.store;
    sessions = new SessionService(store);
  });
  afterEach(() => opened.close());

  const DEVICE = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36' };

  /** A browser session of `accountId` with one app signed in through it (its grant with a refresh token). */
  const LOGIN_TS = nowSeconds() - 10;
  async function browserSession(id: string, accountId: string, clientId = 'web-app') {
    const now = nowSeconds();
    await store.upsert('Grant', `grant-${id}`, { accountId, clientId, iat: now, exp: now + 3600 }, 3600);
    await store.upsert('RefreshToken', `rt-${id}`, { accountId, clientId, grantId: `grant-${id}` }, 3600);
    await store.upsert('AccessToken', `at-${id}`, { accountId, clientId, grantId: `grant-${id}` }, 600);
    await store.upsert('Session', id, { accountId, loginTs: LOGIN_TS, exp: now + 3600, authorizations: { [clientId]: { sid: `sid-${id}`, grantId: `grant-${id}` } } }, 3600);
  }

  it('lists each session with its device and apps, the current one marked and first, and apps holding refresh tokens without a session', async () => {
    await browserSession('s1', 'alice');
    await browserSession('s2', 'alice', 'other-app');
    await browserSession('b1', 'bob');
    await sessions.recordSignIn('s2', 'alice', DEVICE, nowSeconds() + 3600);
    // A mobile app whose browser session has gone: its grant and refresh token remain.
    await store.upsert('Grant', 'mobile-grant', { accountId: 'alice', clientId: 'mobile-app', iat: nowSeconds(), exp: nowSeconds() + 86400 }, 86400);
    await store.upsert('RefreshToken', 'mobile-rt', { accountId: 'alice', clientId: 'mobile-app', grantId: 'mobile-grant' }, 86400);
    // A grant with no refresh token left is no app signed in.
    await store.upsert('Grant', 'spent-grant', { accountId: 'alice', clientId: 'spent-app' }, 86400);

    const { sessions: listed, apps } = await sessions.devicesOf('alice', 's1');
    expect(listed.map((s) => [s.handle, s.current])).toEqual([[handleOf('s1'), true], [handleOf('s2'), false]]);
    const s2 = listed[1]!;
    expect(s2).toMatchObject({ ip: DEVICE.ip, userAgent: DEVICE.userAgent, apps: [{ clientId: 'other-app', sid: 'sid-s2', grantId: 'grant-s2' }] });
    expect(s2.signedInAt).toBeGreaterThan(nowSeconds() - 5);
    expect(listed[0]).toMatchObject({ ip: null, lastUsedAt: null });
    expect(listed[0]!.signedInAt).toBe(LOGIN_TS); // from the session's loginTs, no device record
    expect(apps).toEqual([expect.objectContaining({ handle: handleOf('mobile-grant'), clientId: 'mobile-app' })]);
    // Handles stand for ids: no session id appears in what the pages get.
    expect(JSON.stringify(listed)).not.toMatch(/"s1"|"s2"/);
  });

  it('ends only the account\'s own session: another account\'s handle ends nothing', async () => {
    await browserSession('s1', 'alice');
    await browserSession('b1', 'bob');
    expect(await sessions.endOwnSession('alice', handleOf('b1'))).toBeUndefined();
    expect(await sessions.endOwnSession('alice', 'b1')).toBeUndefined(); // the raw id is no handle either
    expect(await store.find('Session', 'b1')).toBeDefined();
    expect(await store.find('RefreshToken', 'rt-b1')).toBeDefined();

    await sessions.recordSignIn('s1', 'alice', DEVICE, nowSeconds() + 3600);
    const ended = await sessions.endOwnSession('alice', handleOf('s1'));
    expect(ended).toEqual({ sessions: 1, grants: 1, clientIds: ['web-app'], loggedOut: [{ clientId: 'web-app', sid: 'sid-s1' }] });
    for (const [model, id] of [['Session', 's1'], ['Grant', 'grant-s1'], ['RefreshToken', 'rt-s1'], ['AccessToken', 'at-s1'], [SESSION_DEVICE_MODEL, 's1']] as const) {
      expect([model, await store.find(model, id)]).toEqual([model, undefined]);
    }
    // Twice: the second finds nothing to end.
    expect(await sessions.endOwnSession('alice', handleOf('s1'))).toBeUndefined();
  });

  it('signs out everywhere else: other sessions and apps without a session go, this session and its grant stay', async () => {
    await browserSession('here', 'alice');
    await browserSession('there', 'alice');
    await browserSession('b1', 'bob');
    await store.upsert('Grant', 'mobile-grant', { accountId: 'alice', clientId: 'mobile-app' }, 86400);
    await store.upsert('RefreshToken', 'mobile-rt', { accountId: 'alice', clientId: 'mobile-app', grantId: 'mobile-grant' }, 86400);
    const ended = await sessions.endEverywhereElse('alice', 'here');
    expect(ended).toMatchObject({ sessions: 1, grants: 2, loggedOut: [{ clientId: 'web-app', sid: 'sid-there' }] });
    expect(await store.find('Session', 'here')).toBeDefined();
    expect(await store.find('RefreshToken', 'rt-here')).toBeDefined();
    expect(await store.find('Session', 'there')).toBeUndefined();
    expect(await store.find('RefreshToken', 'rt-there')).toBeUndefined();
    expect(await store.find('RefreshToken', 'mobile-rt')).toBeUndefined();
    expect(await store.find('RefreshToken', 'rt-b1')).toBeDefined();
  });

  it('signs one app out by its grant\'s handle, the account\'s own only', async () => {
    await store.upsert('Grant', 'mobile-grant', { accountId: 'alice', clientId: 'mobile-app' }, 86400);
    await store.upsert('RefreshToken', 'mobile-rt', { accountId: 'alice', clientId: 'mobile-app', grantId: 'mobile-grant' }, 86400);
    expect(await sessions.endOwnGrant('bob', handleOf('mobile-grant'))).toBeUndefined();
    expect(await store.find('RefreshToken', 'mobile-rt')).toBeDefined();
    expect(await sessions.endOwnGrant('alice', handleOf('mobile-grant'))).toEqual({ clientId: 'mobile-app' });
    expect(await store.find('RefreshToken', 'mobile-rt')).toBeUndefined();
  });

  it('"last used" is written on a use, at most once a minute, and a session from before the records gets one', async () => {
    await browserSession('s1', 'alice');
    const session = { loginTs: nowSeconds() - 10, expiresAt: nowSeconds() + 3600 };
    await sessions.touch('s1', 'alice', session, DEVICE);
    const first = await store.find(SESSION_DEVICE_MODEL, 's1');
    expect(first).toMatchObject({ accountId: 'alice', signedInAt: session.loginTs, ip: DEVICE.ip });
    // Within the minute, from another address: nothing is written.
    await sessions.touch('s1', 'alice', session, { ip: '198.51.100.1', userAgent: null });
    expect(await store.find(SESSION_DEVICE_MODEL, 's1')).toMatchObject({ ip: DEVICE.ip });
    // Another process (no memory of the first touch) reads the record and still leaves it within the minute.
    await new SessionService(store).touch('s1', 'alice', session, { ip: '198.51.100.1', userAgent: null });
    expect(await store.find(SESSION_DEVICE_MODEL, 's1')).toMatchObject({ ip: DEVICE.ip });
    // A minute later the use is recorded, the sign-in time kept.
    await store.upsert(SESSION_DEVICE_MODEL, 's1', { ...first!, lastUsedAt: nowSeconds() - 61 }, 3600);
    await new SessionService(store).touch('s1', 'alice', session, { ip: '198.51.100.1', userAgent: null });
    const later = await store.find(SESSION_DEVICE_MODEL, 's1');
    expect(later).toMatchObject({ ip: '198.51.100.1', signedInAt: session.loginTs });
    expect(later!.lastUsedAt).toBeGreaterThan(nowSeconds() - 5);
  });
});

describe.each(sqlBackends())('a user\'s own audit events on %s', (_name, backend) => {
  const db = migratedDb(backend);
  it('returns the newest events about the user, and the user\'s own events about nobody, never another user\'s', async () => {
    const audit = new AuditService(new AuditStore(db()));
    const user = (id: string) => ({ type: 'user' as const, id });
    await audit.record('sign_in.succeeded', { actor: user('u1'), target: user('u1'), request: { ip: '203.0.113.1', userAgent: 'UA' } });
    await audit.record('sign_in.failed', { actor: user('u2'), target: user('u2'), data: { reason: 'invalid' } });
    await audit.record('user.disabled', { actor: user('u1'), target: user('u2') }); // u1 an administrator: about u2
    await audit.record('password.changed', { actor: { type: 'client', id: 'admin-app' }, target: user('u1') });
    await audit.record('self.thing', { actor: user('u1') });
    for (let i = 0; i < 5; i++) await audit.record('sign_in.failed', { actor: user('u1'), target: user('u1'), data: { reason: 'locked' } });

    const all = await audit.listAboutUser('u1', 30);
    expect(all.map((e) => e.type)).toEqual([...Array(5).fill('sign_in.failed'), 'self.thing', 'password.changed', 'sign_in.succeeded']);
    expect(all[all.length - 1]).toMatchObject({ ip: '203.0.113.1', userAgent: 'UA' });
    expect((await audit.listAboutUser('u1', 6)).map((e) => e.type)).toEqual([...Array(5).fill('sign_in.failed'), 'self.thing']);
    expect((await audit.listAboutUser('u2', 30)).map((e) => e.type)).toEqual(['user.disabled', 'sign_in.failed']);
  });
});
