import type { OidcStore } from '../stores/oidc-store.js';

/**
 * A user's sessions and grants, through the per-account index of the artifact store: list them, and
 * end them (after a password change, say).
 */
export class SessionService {
  constructor(private readonly store: OidcStore) {}

  async list(accountId: string) {
    return this.store.listByAccount(accountId, 'Session');
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
}
