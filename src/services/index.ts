import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/index.js';
import { migrate, nowSeconds, openDb, type Db } from '../stores/db.js';
import type { OidcStore } from '../stores/oidc-store.js';
import { RedisOidcStore } from '../stores/redis/oidc-store.js';
import { AccountStore } from '../stores/sql/accounts.js';
import { ClientStore } from '../stores/sql/clients.js';
import { InstanceSecretStore } from '../stores/sql/instance-secrets.js';
import { SqlOidcStore } from '../stores/sql/oidc-store.js';
import { SigningKeyStore } from '../stores/sql/signing-keys.js';
import { AccountService } from './accounts.js';
import { ClientService } from './clients.js';
import { KeyService } from './keys.js';
import { PasswordHasher } from './passwords.js';

/** Stores and services over one database (and Redis when configured): shared by the server and the CLI. */
export interface Services {
  db: Db;
  redis?: Redis;
  oidcStore: OidcStore;
  clientStore: ClientStore;
  accounts: AccountService;
  clients: ClientService;
  keys: KeyService;
  secrets: InstanceSecretStore;
  close(): Promise<void>;
}

export async function openServices(config: AppConfig, options: { migrate?: boolean } = {}): Promise<Services> {
  const db = openDb(config.database);
  try {
    if (options.migrate !== false) await migrate(db, config.database);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const redis = config.redis ? new Redis(config.redis.url, { maxRetriesPerRequest: 3, lazyConnect: false }) : undefined;
  const oidcStore: OidcStore = redis ? new RedisOidcStore(redis, config.redis!.prefix) : new SqlOidcStore(db);
  const clientStore = new ClientStore(db);
  const hasher = new PasswordHasher(config.argon2);
  const lt = config.lifetimes;
  // A retired key must outlive every token it signed; a day of margin covers clock skew and caches.
  const retireAfter = Math.max(lt.accessTokenSeconds, lt.idTokenSeconds) + 86400;
  return {
    db,
    redis,
    oidcStore,
    clientStore,
    accounts: new AccountService(new AccountStore(db), hasher),
    clients: new ClientService(clientStore),
    keys: new KeyService(new SigningKeyStore(db), retireAfter),
    secrets: new InstanceSecretStore(db),
    async close() {
      await oidcStore.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.destroy();
    },
  };
}

/** Cookie signing keys: configured ones, or (outside production) a generated key kept in the database. */
export async function cookieKeys(config: AppConfig, services: Services): Promise<string[]> {
  if (config.cookieKeys) return config.cookieKeys;
  const generated = await services.secrets.getOrCreate('cookie_key', () => randomBytes(32).toString('base64url'), nowSeconds());
  return [generated];
}
