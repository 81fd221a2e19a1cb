import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ClientRecord, ClientStore, SessionType } from '../stores/sql/clients.js';
import { nowSeconds } from '../stores/db.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import { m } from '../i18n/message.js';
import { oncePerRequest } from '../observability/request-context.js';

/**
 * A client as stored, read at most once per request: the sign-in pages, the admin API's token check and
 * oidc-provider's client adapter (src/provider/adapter.ts) share the read. Never across requests, so a
 * changed registration holds on the next one.
 */
export const clientOncePerRequest = (clients: ClientStore, clientId: string): Promise<ClientRecord | undefined> =>
  oncePerRequest(`client:${clientId}`, () => clients.find(clientId));

export const SESSION_TYPES = ['web', 'mobile', 'desktop'] as const satisfies readonly SessionType[];

/** Client secrets are 256-bit random strings, so one SHA-256 is enough to store them safely. */
export const digestClientSecret = (secret: string): string => createHash('sha256').update(secret).digest('base64url');

/**
 * The loopback hosts of http redirects: web clients (development) and native apps (RFC 8252 §7.3, where
 * oidc-provider lets any port match for application_type native; tools such as oidc-agent only use localhost).
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why a redirect URI is unacceptable for a client of this session type, or null when it is fine.
 * Web clients: https, or http on a loopback host for development (the port must match exactly). Mobile
 * and desktop (RFC 8252): http on localhost or a loopback IP literal (any port matches at the
 * authorization request), a private-use scheme in reverse-domain form, or a claimed https URI.
 */
export function redirectUriProblem(value: string, sessionType: SessionType): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URI';
  }
  if (url.hash || value.includes('#')) return 'must not contain a fragment';
  if (value.includes('*')) return 'must not contain wildcards';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (sessionType === 'web') {
    if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return null;
    return 'web clients need https (http only on a loopback host)';
  }
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname) ? null : 'http redirects of native apps must use a loopback host (127.0.0.1, [::1] or localhost)';
  }
  const scheme = url.protocol.slice(0, -1);
  if (!scheme.includes('.')) return 'a private-use scheme must be in reverse-domain form, such as com.example.app';
  if (url.host) return 'a private-use scheme URI takes a path, not a host (com.example.app:/callback)';
  return null;
}

const newClientSchema = z
  .object({
    clientName: z.string().trim().min(1, 'is required').max(200),
    sessionType: z.enum(SESSION_TYPES, { message: 'must be web, mobile or desktop' }),
    redirectUris: z.array(z.string()).min(1, 'needs at least one redirect URI'),
    postLogoutRedirectUris: z.array(z.string()).default([]),
    backchannelLogoutUri: z.string().optional(),
    thirdParty: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    const check = (field: string, uris: string[]) =>
      uris.forEach((uri, i) => {
        const problem = redirectUriProblem(uri, c.sessionType);
        if (problem) ctx.addIssue({ code: 'custom', path: [field, i], message: `${uri}: ${problem}` });
      });
    check('redirectUris', c.redirectUris);
    check('postLogoutRedirectUris', c.postLogoutRedirectUris);
    if (c.backchannelLogoutUri) check('backchannelLogoutUri', [c.backchannelLogoutUri]);
  });

export type NewClient = z.input<typeof newClientSchema>;

/** A registration checked (a new one, or a change with the client's own session type); every problem as a ValidationError. */
function parseRegistration(input: NewClient): z.output<typeof newClientSchema> {
  const parsed = newClientSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  return parsed.data;
}
/** A registration's new content: everything but the session type, which stays; nothing defaults (a field left out must not quietly change the client). */
export type ClientChanges = Omit<NewClient, 'sessionType' | 'postLogoutRedirectUris' | 'thirdParty'> & { postLogoutRedirectUris: string[]; thirdParty: boolean };

/** Tries of a change that lost a race with another change of the same client before it gives up (409). */
const CHANGE_TRIES = 3;

export interface CreatedClient {
  client: ClientRecord;
  /** Shown once, for web (confidential) clients; only its digest is stored. */
  clientSecret?: string;
}

const newSecret = () => randomBytes(32).toString('base64url');

export class ClientService {
  /** The clients Gatehouse itself keeps in step on every start (the console's, the bootstrap client): not changed through the API. */
  private readonly builtIn = new Set<string>();

  /** oidc-provider's own check of a client's metadata, once the app has a provider (checkMetadataWith). */
  private metadataCheck?: (metadata: Record<string, unknown>) => Promise<void>;

  constructor(private readonly clients: ClientStore) {}

  /**
   * Checks every new or changed registration with the provider's own rules too, before it is stored:
   * a client the provider cannot load (its every sign-in and refresh would fail) is never written. The
   * rules above catch the common mistakes with plain messages; the provider's catch the rest (a
   * back-channel logout URI that is not a web URI, a claimed https redirect on localhost, …).
   */
  checkMetadataWith(check: (metadata: Record<string, unknown>) => Promise<void>): void {
    this.metadataCheck = check;
  }

  private async checkMetadata(metadata: Record<string, unknown>): Promise<void> {
    if (!this.metadataCheck) return;
    try {
      await this.metadataCheck(metadata);
    } catch (err) {
      // oidc-provider's InvalidClientMetadata: its description starts with the property it is about.
      const description = (err as { error_description?: string }).error_description ?? (err as Error).message;
      throw new ValidationError([{ field: /^[a-z_]+/.exec(description)?.[0] ?? 'metadata', message: description }]);
    }
  }

  isBuiltIn(clientId: string): boolean {
    return this.builtIn.has(clientId);
  }

  private refuseBuiltIn(clientId: string): void {
    if (this.builtIn.has(clientId)) throw new ConflictError('this client is built into Gatehouse: it is managed by its configuration, not through the API', m('This app is built into Gatehouse: it cannot be changed here.'));
  }

  /** One page of clients in client_id order; `nextCursor`: the client_id to pass as `afterId` for the next. */
  async list(opts: { afterId?: string; limit: number }): Promise<{ items: ClientRecord[]; nextCursor: string | null }> {
    const found = await this.clients.list({ ...opts, limit: opts.limit + 1 });
    const items = found.slice(0, opts.limit);
    return { items, nextCursor: found.length > opts.limit ? items[items.length - 1]!.clientId : null };
  }

  /**
   * A new secret for a confidential client, returned once; only its digest is stored, so the old secret
   * stops working at once (the provider compares digests of the stored metadata).
   */
  async rotateSecret(clientId: string): Promise<{ client: ClientRecord; clientSecret: string }> {
    this.refuseBuiltIn(clientId);
    const clientSecret = newSecret();
    const client = await this.change(clientId, (existing) => {
      if (existing.metadata.token_endpoint_auth_method === 'none') throw new ConflictError('a public client (mobile or desktop) has no secret', m('A mobile or desktop app is a public client: it has no secret.'));
      return { ...existing, metadata: { ...existing.metadata, client_secret: digestClientSecret(clientSecret) } };
    });
    return { client, clientSecret };
  }

  /**
   * Changes a registration: its name, redirect URIs, back-channel logout URI and whether it is a third
   * party. The client id, secret and session type stay; the URIs are checked as at registration.
   */
  async update(clientId: string, input: ClientChanges): Promise<{ before: ClientRecord; after: ClientRecord }> {
    this.refuseBuiltIn(clientId);
    let before: ClientRecord | undefined;
    const after = await this.change(clientId, (existing) => {
      before = existing;
      const c = parseRegistration({ ...input, sessionType: existing.sessionType });
      const { backchannel_logout_uri: _uri, backchannel_logout_session_required: _required, ...kept } = existing.metadata;
      return {
        ...existing,
        clientName: c.clientName,
        firstParty: !c.thirdParty,
        metadata: {
          ...kept,
          client_name: c.clientName,
          first_party: !c.thirdParty,
          redirect_uris: c.redirectUris,
          post_logout_redirect_uris: c.postLogoutRedirectUris,
          ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
        },
      };
    });
    return { before: before!, after };
  }

  /**
   * Reads the client, builds its next state and writes it only if the client is still as read (a
   * conditional write, ClientStore.replace): a secret rotated or a registration changed at the same
   * time, on any node, is never undone, and a client deleted meanwhile is not brought back.
   */
  private async change(clientId: string, next: (existing: ClientRecord) => ClientRecord): Promise<ClientRecord> {
    for (let tries = 0; tries < CHANGE_TRIES; tries++) {
      const existing = await this.get(clientId);
      const client = { ...next(existing), updatedAt: nowSeconds() };
      await this.checkMetadata(client.metadata);
      if (await this.clients.replace(client, existing)) return client;
    }
    throw new ConflictError('the client was changed by someone else at the same moment; try again', m('Someone else changed this app at the same moment. Try again.'));
  }

  async create(input: NewClient): Promise<CreatedClient> {
    const c = parseRegistration(input);
    const clientId = randomBytes(16).toString('base64url');
    const confidential = c.sessionType === 'web';
    const clientSecret = confidential ? newSecret() : undefined;
    const metadata: Record<string, unknown> = {
      client_id: clientId,
      client_name: c.clientName,
      application_type: confidential ? 'web' : 'native',
      session_type: c.sessionType,
      first_party: !c.thirdParty,
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.postLogoutRedirectUris,
      response_types: ['code'],
      grant_types: confidential
        ? ['authorization_code', 'refresh_token', 'client_credentials']
        : ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
      ...(clientSecret ? { client_secret: digestClientSecret(clientSecret) } : {}),
      ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    };
    await this.checkMetadata(metadata);
    const now = nowSeconds();
    const client: ClientRecord = {
      clientId,
      clientName: c.clientName,
      sessionType: c.sessionType,
      firstParty: !c.thirdParty,
      metadata,
      createdAt: now,
      updatedAt: now,
    };
    await this.clients.create(client);
    return { client, clientSecret };
  }

  /** The client, as read once in this request (clientOncePerRequest); `get` and every change read it afresh. */
  find(clientId: string): Promise<ClientRecord | undefined> {
    return clientOncePerRequest(this.clients, clientId);
  }

  /** Each client's name, each looked up once; a client deleted since keeps its id as its name. */
  async namesOf(clientIds: Iterable<string>): Promise<Map<string, string>> {
    const ids = [...new Set(clientIds)];
    const found = await Promise.all(ids.map((id) => this.clients.find(id)));
    return new Map(ids.map((id, i) => [id, found[i]?.clientName ?? id]));
  }

  async get(clientId: string): Promise<ClientRecord> {
    const client = await this.clients.find(clientId);
    if (!client) throw new NotFoundError('client');
    return client;
  }

  async remove(clientId: string): Promise<void> {
    this.refuseBuiltIn(clientId);
    if (!(await this.clients.remove(clientId))) throw new NotFoundError('client');
  }

  /**
   * The console's own client (src/console): a public first-party web client, the same on every node and
   * every start (a fixed id, redirect URIs derived from the issuer), so no secret needs sharing. PKCE
   * guards its codes; its redirect URIs are Gatehouse's own, so no one else can receive them.
   */
  async ensureConsole(clientId: string, issuer: string): Promise<void> {
    this.builtIn.add(clientId);
    const now = nowSeconds();
    const existing = await this.clients.find(clientId);
    const name = 'Gatehouse console';
    await this.clients.upsert({
      clientId,
      clientName: name,
      sessionType: 'web',
      firstParty: true,
      metadata: {
        client_id: clientId,
        client_name: name,
        application_type: 'web',
        session_type: 'web',
        first_party: true,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`${issuer}/console/callback`],
        post_logout_redirect_uris: [`${issuer}/console/signed-out`],
      },
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
  }

  /**
   * The platform-admin machine client from GATEHOUSE_BOOTSTRAP_CLIENT_ID/SECRET: created on first start,
   * brought back in line with the environment on every start (so rotating the secret is a restart).
   */
  async ensureBootstrap(clientId: string, clientSecret: string): Promise<void> {
    this.builtIn.add(clientId);
    const now = nowSeconds();
    const existing = await this.clients.find(clientId);
    await this.clients.upsert({
      clientId,
      clientName: 'Gatehouse platform administration',
      sessionType: 'web',
      firstParty: true,
      metadata: {
        client_id: clientId,
        client_name: 'Gatehouse platform administration',
        application_type: 'web',
        session_type: 'web',
        first_party: true,
        client_secret: digestClientSecret(clientSecret),
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
  }
}
