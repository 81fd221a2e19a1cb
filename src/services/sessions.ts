import { createHash } from 'node:crypto';
import { nowSeconds } from '../stores/db.js';
import { SESSION_DEVICE_MODEL, type OidcStore, type Payload, type SessionDeviceRecord } from '../stores/oidc-store.js';

/** "Last used" is written at most this often per session. */
export const LAST_USED_GRANULARITY_SECONDS = 60;

/**
 * The name a session or grant goes by on the account pages and in the audit trail. A session's id is
 * the value of its cookie: it never leaves the server; this digest stands for it.
 */
export const handleOf = (id: string): string => createHash('sha256').update(`gatehouse:${id}`).digest('base64url').slice(0, 22);

/** An app signed in through a browser session (an entry of the session's authorizations). */
export interface SessionApp {
  clientId: string;
  /** The sid the app was told in its ID token (for back-channel logout). */
  sid: string | null;
  grantId: string | null;
}

/** A browser session of the account, as the account pages show it. */
export interface AccountSession {
  /** handleOf(session id): what forms send. */
  handle: string;
  /** Whether it is the session the listing was asked from. */
  current: boolean;
  signedInAt: number | null;
  lastUsedAt: number | null;
  expiresAt: number | null;
  ip: string | null;
  userAgent: string | null;
  apps: SessionApp[];
}

/** An app holding refresh tokens of the account with no live browser session behind them (mobile, desktop). */
export interface AccountAppGrant {
  handle: string;
  grantId: string;
  clientId: string;
  grantedAt: number | null;
  expiresAt: number | null;
}

/** What ending sessions took with it: the apps to tell through back-channel logout. */
export interface Ended {
  sessions: number;
  grants: number;
  clientIds: string[];
  loggedOut: Array<{ clientId: string; sid: string }>;
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const appsOf = (session: Payload): SessionApp[] =>
  Object.entries((session.authorizations ?? {}) as Record<string, { sid?: string; grantId?: string }>).map(([clientId, a]) => ({
    clientId,
    sid: a.sid ?? null,
    grantId: a.grantId ?? null,
  }));

/**
 * A user's sessions and grants, through the per-account index of the artifact store: list them, and
 * end them (after a password change, say).
 */
export class SessionService {
  constructor(private readonly store: OidcStore) {}

  /** Per process: when each session's last use was last written, so most uses skip even the read. */
  private readonly touched = new Map<string, number>();

  /**
   * Records the device of a sign-in that just created (or renewed) the browser session `sessionId`:
   * its address and user agent, kept as long as the session (`expiresAt`, epoch seconds).
   */
  async recordSignIn(sessionId: string, accountId: string, request: { ip: string | null; userAgent: string | null }, expiresAt: number): Promise<void> {
    const now = nowSeconds();
    const record: SessionDeviceRecord = { accountId, signedInAt: now, lastUsedAt: now, ip: request.ip, userAgent: request.userAgent?.slice(0, 512) ?? null };
    await this.store.upsert(SESSION_DEVICE_MODEL, sessionId, { ...record }, Math.max(1, expiresAt - now));
    this.touched.set(sessionId, now);
  }

  /**
   * Notes a use of the browser session: "last used", the address it came from, and the record's TTL
   * following the session's (which each use extends). Written at most once a
   * LAST_USED_GRANULARITY_SECONDS per session, read at most that often per process. A session from
   * before these records gets one, its sign-in time from the session.
   */
  async touch(sessionId: string, accountId: string, session: { loginTs?: number; expiresAt: number }, request: { ip: string | null; userAgent: string | null }): Promise<void> {
    const now = nowSeconds();
    if ((this.touched.get(sessionId) ?? 0) > now - LAST_USED_GRANULARITY_SECONDS) return;
    if (this.touched.size > 10_000) this.touched.clear();
    this.touched.set(sessionId, now);
    const found = (await this.store.find(SESSION_DEVICE_MODEL, sessionId)) as (Payload & Partial<SessionDeviceRecord>) | undefined;
    if (found?.accountId === accountId && (found.lastUsedAt ?? 0) > now - LAST_USED_GRANULARITY_SECONDS) return;
    const record: SessionDeviceRecord = {
      accountId,
      signedInAt: found?.accountId === accountId && typeof found.signedInAt === 'number' ? found.signedInAt : (session.loginTs ?? now),
      lastUsedAt: now,
      ip: request.ip,
      userAgent: request.userAgent?.slice(0, 512) ?? null,
    };
    await this.store.upsert(SESSION_DEVICE_MODEL, sessionId, { ...record }, Math.max(1, session.expiresAt - now));
  }

  /**
   * The account's live browser sessions (newest sign-in first, each with the apps signed in through
   * it) and the apps holding refresh tokens without a live session. Four reads of the per-account index.
   */
  async devicesOf(accountId: string, currentSessionId?: string): Promise<{ sessions: AccountSession[]; apps: AccountAppGrant[] }> {
    const [sessions, devices, grants, refreshTokens] = await Promise.all([
      this.store.listByAccount(accountId, 'Session'),
      this.store.listByAccount(accountId, SESSION_DEVICE_MODEL),
      this.store.listByAccount(accountId, 'Grant'),
      this.store.listByAccount(accountId, 'RefreshToken'),
    ]);
    const deviceOf = new Map(devices.map((d) => [d.id, d.payload as Payload & Partial<SessionDeviceRecord>]));
    const listed: AccountSession[] = sessions.map(({ id, payload }) => {
      const device = deviceOf.get(id);
      return {
        handle: handleOf(id),
        current: id === currentSessionId,
        signedInAt: num(device?.signedInAt) ?? num(payload.loginTs),
        lastUsedAt: num(device?.lastUsedAt),
        expiresAt: num(payload.exp),
        ip: device?.ip ?? null,
        userAgent: device?.userAgent ?? null,
        apps: appsOf(payload),
      };
    });
    listed.sort((a, b) => Number(b.current) - Number(a.current) || (b.signedInAt ?? 0) - (a.signedInAt ?? 0));
    const inSessions = new Set(listed.flatMap((s) => s.apps.map((a) => a.grantId)));
    const refreshed = new Set(refreshTokens.filter((t) => !t.payload.consumed).map((t) => t.payload.grantId));
    const apps: AccountAppGrant[] = grants
      .filter((g) => !inSessions.has(g.id) && refreshed.has(g.id) && typeof g.payload.clientId === 'string')
      .map((g) => ({ handle: handleOf(g.id), grantId: g.id, clientId: g.payload.clientId as string, grantedAt: num(g.payload.iat), expiresAt: num(g.payload.exp) }))
      .sort((a, b) => (b.grantedAt ?? 0) - (a.grantedAt ?? 0));
    return { sessions: listed, apps };
  }

  /** Revokes a grant: its refresh and access tokens go with it. */
  private async revokeGrant(grantId: string): Promise<void> {
    await this.store.revokeByGrantId(grantId);
    await this.store.destroy('Grant', grantId);
  }

  /** Ends sessions (records, devices, every grant they hold) and says which apps to tell. */
  private async endListed(sessions: Array<{ id: string; payload: Payload }>, ended: Ended): Promise<void> {
    for (const { id, payload } of sessions) {
      for (const app of appsOf(payload)) {
        if (app.grantId) {
          await this.revokeGrant(app.grantId);
          ended.grants++;
        }
        ended.clientIds.push(app.clientId);
        if (app.sid) ended.loggedOut.push({ clientId: app.clientId, sid: app.sid });
      }
      await this.store.destroy('Session', id);
      await this.store.destroy(SESSION_DEVICE_MODEL, id);
      this.touched.delete(id);
      ended.sessions++;
    }
  }

  /**
   * Ends one of the account's own browser sessions, named by its handle. A handle not among the
   * account's live sessions (another account's, an ended one) ends nothing: undefined.
   */
  async endOwnSession(accountId: string, handle: string): Promise<Ended | undefined> {
    const target = (await this.store.listByAccount(accountId, 'Session')).find((s) => handleOf(s.id) === handle);
    if (!target) return undefined;
    const ended: Ended = { sessions: 0, grants: 0, clientIds: [], loggedOut: [] };
    await this.endListed([target], ended);
    return ended;
  }

  /** Signs an app out of the account: revokes the account's own grant named by its handle (undefined: not the account's). */
  async endOwnGrant(accountId: string, handle: string): Promise<{ clientId: string } | undefined> {
    const grant = (await this.store.listByAccount(accountId, 'Grant')).find((g) => handleOf(g.id) === handle);
    if (!grant) return undefined;
    await this.revokeGrant(grant.id);
    return { clientId: String(grant.payload.clientId ?? '') };
  }

  /**
   * "Sign out everywhere else": every browser session of the account but `keepSessionId`, with its
   * grants, and every grant not held by that session (apps without a browser session).
   */
  async endEverywhereElse(accountId: string, keepSessionId: string): Promise<Ended> {
    const sessions = await this.store.listByAccount(accountId, 'Session');
    const kept = sessions.find((s) => s.id === keepSessionId);
    const keptGrants = new Set(kept ? appsOf(kept.payload).map((a) => a.grantId) : []);
    const ended: Ended = { sessions: 0, grants: 0, clientIds: [], loggedOut: [] };
    await this.endListed(sessions.filter((s) => s.id !== keepSessionId), ended);
    for (const grant of await this.store.listByAccount(accountId, 'Grant')) {
      if (keptGrants.has(grant.id)) continue;
      await this.revokeGrant(grant.id);
      ended.grants++;
      if (typeof grant.payload.clientId === 'string') ended.clientIds.push(grant.payload.clientId);
    }
    return ended;
  }

  /**
   * Ends the account's browser sessions (all but `keepSessionId`) and revokes all its grants, which
   * takes their refresh and access tokens with them.
   */
  async endAll(accountId: string, keepSessionId?: string): Promise<{ sessions: number; grants: number }> {
    const sessions = (await this.store.listByAccount(accountId, 'Session')).filter((s) => s.id !== keepSessionId);
    const grants = await this.store.listByAccount(accountId, 'Grant');
    await Promise.all(sessions.map((s) => this.store.destroy('Session', s.id)));
    await Promise.all(grants.map(async (g) => {
      await this.store.revokeByGrantId(g.id);
      await this.store.destroy('Grant', g.id);
    }));
    return { sessions: sessions.length, grants: grants.length };
  }

  /**
   * Ends one browser session: its record goes and every grant it holds is revoked, taking its clients'
   * refresh and access tokens with them.
   */
  async endSession(sessionId: string, authorizations: Record<string, { grantId?: string }> | undefined): Promise<void> {
    for (const { grantId } of Object.values(authorizations ?? {})) {
      if (!grantId) continue;
      await this.store.revokeByGrantId(grantId);
      await this.store.destroy('Grant', grantId);
    }
    await this.store.destroy('Session', sessionId);
  }

  /**
   * Ends the account's other browser sessions for a new web sign-in: every other session is destroyed,
   * and the grants it holds for web clients are revoked (their refresh tokens stop working). Returns
   * what was ended, so the caller can tell those clients (back-channel logout).
   */
  async endOtherSessions(
    accountId: string,
    keepSessionId: string,
    isWebClient: (clientId: string) => Promise<boolean>,
  ): Promise<Array<{ clientId: string; sid: string }>> {
    const ended: Array<{ clientId: string; sid: string }> = [];
    for (const { id, payload } of await this.store.listByAccount(accountId, 'Session')) {
      if (id === keepSessionId) continue;
      const authorizations = (payload.authorizations ?? {}) as Record<string, { sid?: string; grantId?: string }>;
      for (const [clientId, auth] of Object.entries(authorizations)) {
        if (!(await isWebClient(clientId))) continue;
        if (auth.grantId) {
          await this.store.revokeByGrantId(auth.grantId);
          await this.store.destroy('Grant', auth.grantId);
        }
        if (auth.sid) ended.push({ clientId, sid: auth.sid });
      }
      await this.store.destroy('Session', id);
    }
    return ended;
  }
}
