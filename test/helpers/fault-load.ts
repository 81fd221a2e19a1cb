import * as client from 'openid-client';
import { Browser } from './browser.js';
import { RP, RP_CALLBACK } from './oidc.js';

/**
 * A light, mixed load on a running Gatehouse for fault tests: sign-ins through the real pages
 * (authorize → password form → consent → code → token), refresh_token grants (rotating), userinfo and
 * discovery, from a few concurrent loops. Every HTTP answer is recorded (operation, status,
 * Retry-After, when it was asked and answered) so a test can judge each one against what the
 * dependencies were doing at the time; every completed sign-in and every token chain is kept so a test
 * can check afterwards that nothing a 2xx promised was lost.
 */
export type Operation = 'authorize' | 'interaction' | 'password' | 'resume' | 'code' | 'refresh' | 'userinfo' | 'discovery';

export interface Answer {
  op: Operation;
  status: number;
  retryAfter: string | null;
  started: number;
  ended: number;
  /** The start of the body of a server error other than 503, to tell what went wrong. */
  body?: string;
}

export interface Chain {
  email: string;
  sub: string;
  accessToken: string;
  refreshToken: string;
  /** When the chain's current tokens were handed out (a 200 from /token). */
  issuedAt: number;
  /** Each refresh of this chain: when it was asked, answered, and the status. */
  refreshes: Array<{ started: number; ended: number; status: number; error?: string }>;
}

export interface LoadTarget {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /**
   * Accounts to sign in with. Each completed sign-in uses its own (a web sign-in may end the user's
   * other sessions, and their refresh tokens with them, by policy): supply more than will complete.
   * Shared between loads: a user that holds a chain is never signed in again.
   */
  users: Array<{ email: string; password: string; used?: boolean }>;
}

export class FaultLoad {
  readonly answers: Answer[] = [];
  readonly chains: Chain[] = [];
  /** Sign-ins that reached the token endpoint with a 200, by email. */
  readonly completed = new Map<string, number>();
  /** Password submissions that were accepted (the sign-in was established), by email. */
  readonly acceptedPasswords = new Map<string, number>();
  /** Any error the loops met that is not an HTTP answer (a refused or reset connection, a bad page). */
  readonly oddities: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  /** Users a sign-in loop has taken (in use, or holding a chain). */
  private readonly taken = new Set<string>();

  constructor(private readonly target: LoadTarget) {}

  start(): void {
    this.running = true;
    this.loops = [this.signInLoop(), this.signInLoop(), this.refreshLoop(), this.userinfoLoop(), this.discoveryLoop()];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Answers to requests asked at or after `from` (and answered before `until`). */
  between(from: number, until = Infinity): Answer[] {
    return this.answers.filter((a) => a.started >= from && a.ended <= until);
  }

  /** Resolves once `predicate` holds, polling; rejects after `ms`. */
  async until(predicate: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await pause(25);
    }
  }

  private async fetch(op: Operation, url: string, init: RequestInit = {}, browser?: Browser): Promise<Response> {
    const started = Date.now();
    const res = browser ? await browser.request(url, init) : await fetch(url, { ...init, redirect: 'manual' });
    // Read the body before the answer counts: a status is not an answer until it has been delivered.
    const body = await res.arrayBuffer();
    const answer: Answer = { op, status: res.status, retryAfter: res.headers.get('retry-after'), started, ended: Date.now() };
    if (res.status >= 500 && res.status !== 503) answer.body = Buffer.from(body).toString('utf8').slice(0, 300);
    this.answers.push(answer);
    return new Response(res.status === 204 || res.status === 304 ? null : body, { status: res.status, headers: res.headers });
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${encodeURIComponent(this.target.clientId)}:${encodeURIComponent(this.target.clientSecret)}`).toString('base64')}`;
  }

  private token(op: Operation, params: Record<string, string>): Promise<Response> {
    return this.fetch(op, `${this.target.issuer}/token`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
  }

  /** One sign-in; false at the first answer that is not the expected one. */
  private async signIn(user: { email: string; password: string }): Promise<boolean> {
    const browser = new Browser();
    const verifier = client.randomPKCECodeVerifier();
    const url = new URL(`${this.target.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: this.target.clientId,
      redirect_uri: RP_CALLBACK,
      response_type: 'code',
      scope: 'openid email offline_access',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: client.randomState(),
    }).toString();
    let res = await this.fetch('authorize', url.href, {}, browser);
    if (res.status !== 303) return false;
    let current = new URL(res.headers.get('location')!, url).href;
    res = await this.fetch('interaction', current, {}, browser);
    if (res.status !== 200) return false;
    const html = await res.text();
    const action = /<form[^>]*action="([^"]*\/password)"/.exec(html)?.[1];
    if (!action) {
      this.oddities.push(`no password form on ${current}`);
      return false;
    }
    const hidden = [...html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)].map((m) => m[0]);
    const body = new URLSearchParams();
    for (const input of hidden) {
      const name = /name="([^"]*)"/.exec(input)?.[1];
      if (name) body.set(name, /value="([^"]*)"/.exec(input)?.[1]?.replace(/&#34;|&quot;/g, '"').replace(/&amp;/g, '&') ?? '');
    }
    body.set('email', user.email);
    body.set('password', user.password);
    res = await this.fetch(
      'password',
      new URL(action, current).href,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() },
      browser,
    );
    if (res.status !== 303) return false;
    this.acceptedPasswords.set(user.email, (this.acceptedPasswords.get(user.email) ?? 0) + 1);
    // Consent and the resumption of the authorization request, until the client's callback.
    current = new URL(res.headers.get('location')!, current).href;
    for (let hop = 0; hop < 10 && !current.startsWith(RP); hop++) {
      res = await this.fetch('resume', current, {}, browser);
      if (res.status !== 302 && res.status !== 303) return false;
      current = new URL(res.headers.get('location')!, current).href;
    }
    const code = new URL(current).searchParams.get('code');
    if (!code) return false;
    res = await this.token('code', { grant_type: 'authorization_code', code, redirect_uri: RP_CALLBACK, code_verifier: verifier });
    if (res.status !== 200) return false;
    const tokens = (await res.json()) as { access_token: string; refresh_token: string; id_token: string };
    const sub = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString()).sub as string;
    this.chains.push({ email: user.email, sub, accessToken: tokens.access_token, refreshToken: tokens.refresh_token, issuedAt: Date.now(), refreshes: [] });
    this.completed.set(user.email, (this.completed.get(user.email) ?? 0) + 1);
    return true;
  }

  private async guarded(loop: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.oddities.push(`${loop}: ${err instanceof Error ? `${err.message} ${(err.cause as Error | undefined)?.message ?? ''}` : String(err)}`);
      await pause(50);
    }
  }

  private async signInLoop(): Promise<void> {
    while (this.running) {
      const user = this.target.users.find((u) => !u.used && !this.taken.has(u.email));
      if (!user) {
        this.oddities.push('ran out of users to sign in with');
        return;
      }
      this.taken.add(user.email);
      await this.guarded('sign-in', async () => {
        if (await this.signIn(user)) user.used = true;
        else await pause(50);
      });
      this.taken.delete(user.email);
      await pause(20);
    }
  }

  private pick(): Chain | undefined {
    return this.chains.length ? this.chains[Math.floor(Math.random() * this.chains.length)] : undefined;
  }

  private async refreshLoop(): Promise<void> {
    while (this.running) {
      const chain = this.pick();
      if (chain) {
        await this.guarded('refresh', async () => {
          const started = Date.now();
          const res = await this.token('refresh', { grant_type: 'refresh_token', refresh_token: chain.refreshToken });
          const entry = { started, ended: Date.now(), status: res.status, error: undefined as string | undefined };
          chain.refreshes.push(entry);
          if (res.status !== 200) {
            const { error, error_description } = (await res.json()) as { error?: string; error_description?: string };
            entry.error = `${error} ${error_description ?? ''}`;
          }
          if (res.status === 200) {
            const tokens = (await res.json()) as { access_token: string; refresh_token: string };
            Object.assign(chain, { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, issuedAt: Date.now() });
          }
        });
      }
      await pause(40);
    }
  }

  private async userinfoLoop(): Promise<void> {
    while (this.running) {
      const chain = this.pick();
      if (chain) await this.guarded('userinfo', () => this.fetch('userinfo', `${this.target.issuer}/me`, { headers: { authorization: `Bearer ${chain.accessToken}` } }));
      await pause(40);
    }
  }

  private async discoveryLoop(): Promise<void> {
    while (this.running) {
      await this.guarded('discovery', () => this.fetch('discovery', `${this.target.issuer}/.well-known/openid-configuration`));
      await pause(60);
    }
  }
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
