import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { OidcStore } from '../stores/oidc-store.js';

const SESSION_MODEL = 'ConsoleSession';
const SIGN_IN_MODEL = 'ConsoleSignIn';
export const SESSION_COOKIE = 'gh_console';
const SIGN_IN_COOKIE = 'gh_console_signin';
/** A console session outlives its tokens only this long without a refresh (the refresh token sets the real limit). */
const SESSION_TTL_SECONDS = 12 * 3600;
/** How long a request waits for another node's refresh of its session before asking for a new sign-in. */
const RENEWAL_WAIT_MS = 10_000;
const RENEWAL_POLL_MS = 50;
const SIGN_IN_TTL_SECONDS = 600;

/** What the server keeps for one console session; the browser holds only its random id. */
export interface ConsoleSession {
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** Epoch seconds when the access token expires. */
  expiresAt: number;
  csrf: string;
}

/** A sign-in on its way to Gatehouse: the PKCE verifier stays on the server. */
export interface PendingSignIn {
  verifier: string;
  returnTo: string;
}

/**
 * Cookies: HttpOnly, Secure over https, SameSite=Lax. Strict would drop the cookie on the top-level
 * navigation back from the sign-in pages when the user arrived from another site (a mail link to the
 * console), signing them in again; Lax still withholds it from cross-site POSTs and subresources, and
 * every form also carries a CSRF token.
 */
const cookieOptions = (ctx: Context) => ({ signed: true, httpOnly: true, sameSite: 'lax' as const, secure: ctx.secure, path: '/console', overwrite: true });

/** Console sessions and pending sign-ins, in the OIDC store (SQL or Redis) with a TTL, so every node sees them. */
export class ConsoleSessions {
  constructor(private readonly store: OidcStore) {}

  async startSignIn(ctx: Context, pending: PendingSignIn): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    await this.store.upsert(SIGN_IN_MODEL, state, { ...pending }, SIGN_IN_TTL_SECONDS);
    ctx.cookies.set(SIGN_IN_COOKIE, state, { ...cookieOptions(ctx), maxAge: SIGN_IN_TTL_SECONDS * 1000 });
    return state;
  }

  /** The pending sign-in for `state`, once, and only in the browser that started it (no login CSRF). */
  async finishSignIn(ctx: Context, state: string): Promise<PendingSignIn | undefined> {
    const started = ctx.cookies.get(SIGN_IN_COOKIE, { signed: true });
    ctx.cookies.set(SIGN_IN_COOKIE, null, cookieOptions(ctx));
    if (!started || started !== state) return undefined;
    if (!(await this.store.consume(SIGN_IN_MODEL, state))) return undefined;
    const pending = (await this.store.find(SIGN_IN_MODEL, state)) as unknown as PendingSignIn | undefined;
    await this.store.destroy(SIGN_IN_MODEL, state);
    return pending;
  }

  async create(ctx: Context, session: Omit<ConsoleSession, 'csrf'>): Promise<void> {
    const id = randomBytes(32).toString('base64url');
    await this.save(id, { ...session, csrf: randomBytes(32).toString('base64url') });
    ctx.cookies.set(SESSION_COOKIE, id, cookieOptions(ctx));
  }

  async current(ctx: Context): Promise<{ id: string; session: ConsoleSession } | undefined> {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
    const session = (await this.store.find(SESSION_MODEL, id)) as unknown as ConsoleSession | undefined;
    return session ? { id, session } : undefined;
  }

  /** Stores the session; saving lifts a refresh claim (the stored record is replaced, unconsumed). */
  save(id: string, session: ConsoleSession): Promise<void> {
    return this.store.upsert(SESSION_MODEL, id, { ...session }, SESSION_TTL_SECONDS);
  }

  /**
   * Claims the refresh of a session by consuming its stored record: the store's atomic consume makes
   * exactly one of any number of simultaneous callers, on any node, the winner, until save() replaces
   * the record. The winner gets the session as stored now and a way to give the claim back.
   */
  async claimRefresh(id: string): Promise<{ session: ConsoleSession; release(): Promise<void> } | undefined> {
    const claim = randomBytes(16).toString('hex');
    if (!(await this.store.consume(SESSION_MODEL, id, claim))) return undefined;
    const stored = await this.stored(id);
    return stored && { session: stored.session, release: () => this.store.unconsume(SESSION_MODEL, id, claim) };
  }

  /**
   * Waits until whoever holds the refresh claim lets go: the renewed session (other tokens than
   * `stale`), or 'released' when the claim was given back without renewing it (the caller may claim it
   * now). Undefined when the session ended or nothing came within RENEWAL_WAIT_MS.
   */
  async renewedElsewhere(id: string, stale: ConsoleSession): Promise<ConsoleSession | 'released' | undefined> {
    const deadline = Date.now() + RENEWAL_WAIT_MS;
    for (;;) {
      const stored = await this.stored(id);
      if (!stored) return undefined;
      const { session, claimed } = stored;
      if (!claimed) return session.accessToken !== stale.accessToken ? session : 'released';
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, RENEWAL_POLL_MS));
    }
  }

  /** The stored session without the store's `consumed` mark, and whether a refresh claim holds it. */
  private async stored(id: string): Promise<{ session: ConsoleSession; claimed: boolean } | undefined> {
    const found = (await this.store.find(SESSION_MODEL, id)) as unknown as (ConsoleSession & { consumed?: number }) | undefined;
    if (!found) return undefined;
    const { consumed, ...session } = found;
    return { session, claimed: consumed !== undefined };
  }

  async end(ctx: Context, id: string): Promise<void> {
    await this.store.destroy(SESSION_MODEL, id);
    ctx.cookies.set(SESSION_COOKIE, null, cookieOptions(ctx));
  }
}
