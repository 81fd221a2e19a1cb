import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { outboundAllowlist, outboundRefusal, type OutboundAllowlist } from '../policy/outbound.js';
import type { Services } from '../services/index.js';

type FetchOptions = RequestInit & { dispatcher?: unknown };
type Fetch = (url: string | URL | Request, options?: RequestInit) => Promise<Response>;

/** oidc-provider's Client#backchannelLogout posts a form with logout_token; nothing else it sends does. */
const isLogoutTokenDelivery = (options: FetchOptions): boolean =>
  options.method === 'POST' && typeof (options.body as URLSearchParams | undefined)?.has === 'function' && (options.body as URLSearchParams).has('logout_token');

interface NodeAgent {
  on(event: 'connect', listener: (origin: URL, targets: object[]) => void): void;
}

/**
 * The Agent class of the fetch built into Node (undici), reached the way oidc-provider reaches it for its
 * own guard: through the global dispatcher, which loading Response installs. Test runners that give
 * modules a separate global (jest) hide it; then undefined.
 */
function nodeAgentClass(): (new () => NodeAgent) | undefined {
  void Response;
  const g = globalThis as unknown as Record<symbol, { constructor?: new () => NodeAgent } | undefined>;
  return (g[Symbol.for('undici.globalDispatcher.2')] ?? g[Symbol.for('undici.globalDispatcher.1')])?.constructor;
}

/**
 * A dispatcher that checks every new connection after DNS, on the address it actually reached (so a
 * name that re-resolves between a check and the connection cannot slip through), and destroys it,
 * before anything is written, unless `outboundRefusal` allows it.
 */
function guardedDispatcher(Agent: new () => NodeAgent, allow: OutboundAllowlist, logger: Logger): NodeAgent {
  const agent = new Agent();
  agent.on('connect', (origin, targets) => {
    const client = targets[targets.length - 1] as Record<symbol, Socket | undefined>;
    const key = Object.getOwnPropertySymbols(client).find((s) => s.description === 'socket');
    const socket = key === undefined ? undefined : client[key];
    if (!socket) {
      logger.error({ origin: origin.origin }, 'back-channel logout: connection without a socket to check');
      return;
    }
    const refusal = outboundRefusal(origin.hostname, socket.remoteAddress ?? '', allow);
    if (refusal) socket.destroy(new Error(refusal));
  });
  return agent;
}

/**
 * oidc-provider's `fetch` option. Back-channel logout deliveries go through a guard that follows
 * BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS; every other request oidc-provider makes keeps its own guard
 * unchanged. Where Node's Agent cannot be reached (only under test runners), the resolved addresses
 * are checked just before sending instead.
 */
export function backchannelLogoutFetch(allowed: readonly string[], logger: Logger): Fetch {
  const allow = outboundAllowlist(allowed);
  let dispatcher: NodeAgent | undefined;
  let Agent: (new () => NodeAgent) | undefined;
  try {
    Agent = nodeAgentClass();
  } catch {
    Agent = undefined;
  }
  if (Agent) dispatcher = guardedDispatcher(Agent, allow, logger);
  else logger.warn('back-channel logout: Node\'s fetch Agent is not reachable; checking resolved addresses before each delivery instead');

  return async (url, init = {}) => {
    const options = init as FetchOptions;
    if (!isLogoutTokenDelivery(options)) return globalThis.fetch(url, options as RequestInit);
    if (dispatcher) return globalThis.fetch(url, { ...options, dispatcher } as unknown as RequestInit);
    const { hostname } = new URL(url instanceof Request ? url.url : url);
    for (const { address } of await lookup(hostname.replace(/^\[|\]$/g, ''), { all: true, verbatim: true })) {
      const refusal = outboundRefusal(hostname, address, allow);
      if (refusal) throw new Error(refusal);
    }
    const { dispatcher: _ignored, ...rest } = options;
    return globalThis.fetch(url, rest as RequestInit);
  };
}

/** oidc-provider's Client sends back-channel logout tokens itself; its typings do not list the method. */
interface BackchannelClient {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string): Promise<void>;
}

/**
 * Tells each app whose session of `accountId` ended, where it registered a backchannel_logout_uri, with
 * oidc-provider's own logout token (Client#backchannelLogout), one after the other. Outcomes are the
 * provider's events, as for its own RP-initiated logout (recordBackchannelOutcomes logs and audits them).
 */
export async function sendBackchannelLogouts(provider: Provider, ctx: unknown, accountId: string, loggedOut: ReadonlyArray<{ clientId: string; sid: string }>): Promise<void> {
  for (const { clientId, sid } of loggedOut) {
    const client = (await provider.Client.find(clientId)) as unknown as BackchannelClient | undefined;
    if (!client?.backchannelLogoutUri) continue;
    await client.backchannelLogout(accountId, sid).then(
      () => void provider.emit('backchannel.success', ctx, client, accountId, sid),
      (err: unknown) => void provider.emit('backchannel.error', ctx, err, client, accountId, sid),
    );
  }
}

/** What went wrong, in one line: fetch wraps connection errors (our refusal among them) in "fetch failed". */
function reasonOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.message ?? e?.cause?.code;
  return String(cause ? `${e.message}: ${cause}` : e?.message ?? err).slice(0, 500);
}

/**
 * Every back-channel logout, whoever sends it (oidc-provider's RP-initiated logout, or
 * concurrent-sessions), ends in one of these two provider events: successes are logged, failures are
 * logged and audited (`backchannel_logout.failed`, in the user's organization's trail).
 */
export function recordBackchannelOutcomes(provider: Provider, services: Services, logger: Logger): void {
  provider.on('backchannel.success', (_ctx, client, accountId) => {
    services.metrics.backchannelLogout('delivered');
    logger.info({ event: 'backchannel_logout.sent', clientId: client.clientId, accountId }, 'back-channel logout delivered');
  });
  provider.on('backchannel.error', (_ctx, err, client, accountId) => {
    const reason = reasonOf(err);
    services.metrics.backchannelLogout('failed');
    logger.warn({ event: 'backchannel_logout.failed', clientId: client.clientId, accountId, reason }, 'back-channel logout failed');
    void (async () => {
      const account = await services.accounts.findById(accountId);
      const organizationId = account ? (await services.policies.effectiveFor(account)).organizationId : null;
      await services.audit.record('backchannel_logout.failed', {
        actor: { type: 'system', id: 'backchannel-logout' },
        organizationId,
        target: { type: 'user', id: accountId },
        data: { clientId: client.clientId, uri: client.backchannelLogoutUri ?? null, reason },
      });
    })().catch((auditErr: unknown) => logger.error({ err: auditErr, clientId: client.clientId }, 'recording a failed back-channel logout failed'));
  });
}
