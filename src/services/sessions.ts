import type { OidcStore } from '../stores/oidc-store.js';

/**
 * A user's sessions and grants, through the per-account index of the artifact store: list them, and
 * end them (after a password change, say).
 */
export class SessionService {
  constructor(private readonly store: OidcStore) {}

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
