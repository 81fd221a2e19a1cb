import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { randomBytes } from 'node:crypto';
import { requestScopes } from '../observability/request-context.js';
import { dependencyOf } from '../services/dependencies.js';
import type { OidcStore, Payload } from '../stores/oidc-store.js';
import type { ClientStore } from '../stores/sql/clients.js';
import { clientOncePerRequest } from '../services/clients.js';

/** Everything a grant produced, and the Grant: what oidc-provider's own revoke helper removes on reuse. */
async function revokeGrant(store: OidcStore, grantId: string): Promise<void> {
  await Promise.all([store.revokeByGrantId(grantId), store.destroy('Grant', grantId)]);
}

/** Binds one oidc-provider model name to the artifact store. */
class StoreAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly store: OidcStore,
  ) {}

  upsert(id: string, payload: AdapterPayload, expiresIn: number) {
    return this.store.upsert(this.model, id, payload as Payload, expiresIn);
  }
  find(id: string) {
    return this.store.find(this.model, id) as Promise<AdapterPayload | undefined>;
  }
  findByUid(uid: string) {
    return this.store.findByUid(this.model, uid) as Promise<AdapterPayload | undefined>;
  }
  findByUserCode(userCode: string) {
    return this.store.findByUserCode(this.model, userCode) as Promise<AdapterPayload | undefined>;
  }
  /**
   * oidc-provider reads `consumed` and then calls consume(): two simultaneous redemptions of one code or
   * refresh token both pass its check. The store's consume is atomic, so only one of them wins here; the
   * loser is treated as oidc-provider treats reuse: the whole grant is revoked (every artifact and the
   * Grant itself, so tokens the winner is still issuing die too) and the request gets invalid_grant.
   */
  async consume(id: string) {
    // Remembered for the request: should it fail for want of a backing service before answering
    // (src/http/unavailable.ts), it is taken back. A consume whose answer was lost with the connection
    // may have happened: taken back too where the store can tell it was this one.
    const scope = requestScopes.getStore();
    const claim = randomBytes(12).toString('base64url');
    let consumed: boolean;
    try {
      consumed = await this.store.consume(this.model, id, claim);
    } catch (err) {
      if (scope && this.store.claimsConsumes && dependencyOf(err)) (scope.consumed ??= []).push({ model: this.model, id, claim });
      throw err;
    }
    if (consumed) {
      if (scope) (scope.consumed ??= []).push({ model: this.model, id, claim });
      return;
    }
    const grantId = (await this.store.find(this.model, id))?.grantId;
    if (grantId) await revokeGrant(this.store, grantId);
    // A pushed authorization request is redeemed at /auth, where oidc-provider answers reuse with invalid_request_uri.
    if (this.model === 'PushedAuthorizationRequest') throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
    throw new errors.InvalidGrant(`${this.model} already consumed`);
  }
  destroy(id: string) {
    return this.store.destroy(this.model, id);
  }
  revokeByGrantId(grantId: string) {
    return this.store.revokeByGrantId(grantId);
  }
}

/** Clients come from the clients table (CLI and admin API write it); the provider only reads them. */
class ClientAdapter implements Adapter {
  constructor(private readonly clients: ClientStore) {}

  find(id: string) {
    return clientOncePerRequest(this.clients, id).then((client) => client?.metadata as AdapterPayload | undefined);
  }
  async upsert() {
    throw new Error('clients are managed through Gatehouse, not the provider');
  }
  async findByUid() {
    return undefined;
  }
  async findByUserCode() {
    return undefined;
  }
  async consume() {}
  async destroy() {}
  async revokeByGrantId() {}
}

/** The adapter constructor oidc-provider calls once per model name. */
export function adapterFactory(store: OidcStore, clients: ClientStore) {
  return function GatehouseAdapter(model: string): Adapter {
    return model === 'Client' ? new ClientAdapter(clients) : new StoreAdapter(model, store);
  } as unknown as new (model: string) => Adapter;
}
