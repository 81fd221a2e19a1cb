import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { OidcStore, Payload } from '../stores/oidc-store.js';
import type { ClientStore } from '../stores/sql/clients.js';

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
  consume(id: string) {
    return this.store.consume(this.model, id);
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

  async find(id: string) {
    return (await this.clients.find(id))?.metadata as AdapterPayload | undefined;
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
