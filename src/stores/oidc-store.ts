/**
 * Storage of oidc-provider artifacts (sessions, grants, codes, tokens, interactions) and of Gatehouse's
 * own short-lived sign-in flows. Two implementations pass one contract suite (test/stores/oidc-store.contract.ts):
 * SQL (SQLite or PostgreSQL) and Redis.
 */
export type Payload = Record<string, unknown> & {
  grantId?: string;
  uid?: string;
  userCode?: string;
  accountId?: string;
  consumed?: number;
};

/**
 * The models oidc-provider issues from a grant (its own example adapters' "grantable" set). Only these
 * are indexed by grant and removed with it: an Interaction also names the grant it would extend, and
 * must survive the grant's revocation (oidc-provider ends the old session, which revokes its grants, in
 * the middle of a sign-in that switches accounts, and then resumes that very interaction).
 */
export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

export interface OidcStore {
  /** Inserts or replaces; expiresIn in seconds (undefined: no expiry). */
  upsert(model: string, id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(model: string, id: string): Promise<Payload | undefined>;
  findByUid(model: string, uid: string): Promise<Payload | undefined>;
  findByUserCode(model: string, userCode: string): Promise<Payload | undefined>;
  /**
   * Marks consumed (the payload then carries `consumed`: epoch seconds) in one atomic step, and says
   * whether THIS call did it: true for exactly one of any number of simultaneous calls, false when the
   * payload was already consumed or does not exist. Never read-then-write: codes and refresh tokens are
   * single-use only because of this.
   */
  consume(model: string, id: string): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  /** Removes every artifact issued from the grant (GRANTABLE_MODELS), and nothing else. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** The unexpired artifacts of a model that belong to an account: the per-account session and grant index. */
  listByAccount(accountId: string, model: string): Promise<Array<{ id: string; payload: Payload }>>;
  /** Deletes expired entries; returns how many went. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}
