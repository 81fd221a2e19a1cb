import type Provider from 'oidc-provider';
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import type { Logger } from 'pino';
import type { KeyService } from '../services/keys.js';

type Jwks = { keys: Array<{ kid?: unknown }> };

/**
 * Makes a running oidc-provider sign with, and publish, a new key set. oidc-provider 9 takes its keys
 * once, as the `jwks` option of its constructor, and has no public way to change them. The constructor
 * hands that option to its keystore initialiser, which validates the keys, builds the keystore (every
 * signing path reads it from the provider's internal state per token: ID tokens, JWT access tokens,
 * userinfo/introspection JWTs) and the public key set GET /jwks serves, and assigns both at the end.
 * Calling that same initialiser again is the smallest step that changes nothing else: the keys go
 * through the checks they passed at start, requests already signing keep the keystore they read, and
 * a key set that fails the checks throws before anything is replaced. It is an internal module of
 * oidc-provider (lib/helpers/initialize_keystore.js): test/integration/key-refresh.test.ts fails if an
 * upgrade changes it.
 */
export function useSigningKeys(provider: Provider, jwks: Jwks): void {
  initializeKeystore.call(provider, jwks);
}

const orderOf = (jwks: Jwks): string => jwks.keys.map((k) => String(k.kid)).join(' ');

/**
 * Keeps a node's signing keys in step with the signing_keys table. Every KEYS_REFRESH_SECONDS the node
 * re-reads the keys; when the set or its order changed (a rotation on another node or with the CLI) it
 * signs with the new current key and publishes the new set from then on. A rotation made through this
 * node's own KeyService is applied at once (KeyService.onRotated).
 *
 * Why a bounded delay is safe: a rotation promotes the `next` key, which every node has published since
 * the previous rotation. For up to one refresh interval after it, nodes that have not re-read yet still
 * sign with the old current key, which the others now publish as retired, and those that have sign with
 * the old next key, which the laggards still publish. So a token from any node verifies against the
 * JWKS of any node, and against a JWKS a relying party fetched before the rotation. The new `next` key
 * reaches every node within the interval too, long before it signs anything, provided rotations are
 * further apart than KEYS_REFRESH_SECONDS plus the time relying parties cache a JWKS.
 *
 * A failed read keeps the keys in use, is logged once (and its recovery once), and is retried next interval.
 */
export class SigningKeyRefresher {
  private loaded: string;
  private failing = false;
  private timer?: NodeJS.Timeout;
  /** Refreshes run one after another, so a slow read can never put back an older set after a newer one. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly provider: Provider,
    private readonly keys: KeyService,
    initial: Jwks,
    private readonly intervalSeconds: number,
    private readonly logger: Logger,
  ) {
    this.loaded = orderOf(initial);
  }

  /** Re-reads the keys and applies them if they changed; resolves with whether they did. Never rejects. */
  refresh(): Promise<boolean> {
    const run = this.queue.then(() => this.refreshNow());
    this.queue = run;
    return run;
  }

  private async refreshNow(): Promise<boolean> {
    try {
      const jwks = await this.keys.jwks();
      const order = orderOf(jwks);
      const changed = order !== this.loaded;
      if (changed) {
        useSigningKeys(this.provider, jwks);
        this.loaded = order;
        this.logger.info({ current: jwks.keys[0]?.kid, kids: order.split(' ') }, 'signing keys reloaded');
      }
      if (this.failing) {
        this.failing = false;
        this.logger.info('signing keys read again');
      }
      return changed;
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.logger.warn({ err }, 'reading the signing keys failed: signing with the keys loaded before, retrying every interval');
      }
      return false;
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.intervalSeconds * 1000).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
