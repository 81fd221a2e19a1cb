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
  consume(model: string, id: string, claim?: string): Promise<boolean>;
  /**
   * Takes back a consume() whose request then failed before answering (a backing service went away
   * between consuming a refresh token or code and handing out its successor): the client still holds
   * only the old one, and must be able to present it again. With `claimsConsumes`, only the consume made
   * under `claim` is taken back (so one whose outcome is unknown, its answer lost with the connection,
   * can be taken back safely); without, whatever consume there was.
   */
  unconsume(model: string, id: string, claim: string): Promise<void>;
  /** Whether consume() records its claim and unconsume() checks it. */
  readonly claimsConsumes: boolean;
  destroy(model: string, id: string): Promise<void>;
  /** Removes every artifact issued from the grant (GRANTABLE_MODELS), and nothing else. */
  revokeByGrantId(grantId: string): Promise<void>;
  /** The unexpired artifacts of a model that belong to an account: the per-account session and grant index. */
  listByAccount(accountId: string, model: string): Promise<Array<{ id: string; payload: Payload }>>;
  /** Deletes expired entries; returns how many went. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

/**
 * What Gatehouse keeps beside a browser session (oidc-provider's Session keeps neither address nor
 * user agent): stored under SESSION_DEVICE_MODEL with the session's id, the session's remaining
 * lifetime as TTL, and its accountId, so listByAccount returns an account's devices in one read.
 */
export interface SessionDeviceRecord {
  accountId: string;
  /** Epoch seconds of the sign-in that created the session. */
  signedInAt: number;
  /** Epoch seconds of the session's last use seen (updated at most once a minute). */
  lastUsedAt: number;
  ip: string | null;
  userAgent: string | null;
}

export const SESSION_DEVICE_MODEL = 'SessionDevice';
