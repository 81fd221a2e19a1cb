import { Cluster, type ChainableCommander } from 'ioredis';
import type { RedisClient } from './connection.js';
import { GRANTABLE_MODELS, type OidcStore, type Payload } from '../oidc-store.js';
import { nowSeconds } from '../db.js';

// Check and set in one script, which Redis runs without interleaving: 1 for the call that consumed it.
// The claim (a random value per consume) lets a failed request take back exactly its own consume.
const CONSUME = `if redis.call('hexists', KEYS[1], 'payload') == 1 and redis.call('hexists', KEYS[1], 'consumed') == 0 then
  redis.call('hset', KEYS[1], 'consumed', ARGV[1], 'claim', ARGV[2])
  return 1
end
return 0`;
const UNCONSUME = `if redis.call('hget', KEYS[1], 'claim') == ARGV[1] then
  redis.call('hdel', KEYS[1], 'consumed', 'claim')
end
return 0`;

type Chain = ChainableCommander;
type Write = (tx: Chain) => void;

/**
 * OidcStore on Redis. Each artifact is a hash { payload, consumed, claim } with the artifact's TTL; sets index
 * artifacts by grant and by account; plain keys map uid and user code to ids. Index entries whose
 * artifact has expired are dropped when next read.
 */
export class RedisOidcStore implements OidcStore {
  private readonly cluster: boolean;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.cluster = redis instanceof Cluster;
  }

  private key(model: string, id: string) {
    return `${this.prefix}oidc:${model}:${id}`;
  }
  private grantKey(grantId: string) {
    return `${this.prefix}oidc:grant:${grantId}`;
  }
  private accountKey(accountId: string, model: string) {
    return `${this.prefix}oidc:account:${accountId}:${model}`;
  }
  private lookupKey(kind: 'uid' | 'usercode', model: string, value: string) {
    return `${this.prefix}oidc:${kind}:${model}:${value}`;
  }

  async upsert(model: string, id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const key = this.key(model, id);
    // Each write touches one key. On one server (or a Sentinel set) they go in one MULTI, atomic as a
    // whole. A Cluster keeps the keys in different slots (an artifact's key follows its id, an index's
    // its grant or account), where one MULTI would be refused (CROSSSLOT): there the indexes are written
    // first and the artifact after them, so an artifact is never stored without the grant and account
    // entries that revocation and sign-out rely on (an index entry without its artifact is harmless).
    const indexes: Write[] = [];
    const rest: Write[] = [];
    // Index sets live as long as their longest-lived member.
    const extend = (k: string, member: string) => (tx: Chain) => {
      tx.sadd(k, member);
      if (expiresIn) tx.expire(k, expiresIn, 'NX').expire(k, expiresIn, 'GT');
      else tx.persist(k);
    };
    const lookup = (k: string) => (tx: Chain) => {
      if (expiresIn) tx.set(k, id, 'EX', expiresIn);
      else tx.set(k, id);
    };
    if (payload.grantId && GRANTABLE_MODELS.has(model)) indexes.push(extend(this.grantKey(payload.grantId), key));
    if (payload.accountId) indexes.push(extend(this.accountKey(payload.accountId, model), id));
    rest.push((tx) => {
      tx.del(key).hset(key, 'payload', JSON.stringify(payload));
      if (payload.consumed) tx.hset(key, 'consumed', String(payload.consumed));
      if (expiresIn) tx.expire(key, expiresIn);
    });
    if (payload.uid) rest.push(lookup(this.lookupKey('uid', model, payload.uid)));
    if (payload.userCode) rest.push(lookup(this.lookupKey('usercode', model, payload.userCode)));

    if (!this.cluster) {
      const tx = this.redis.multi();
      for (const write of [...indexes, ...rest]) write(tx);
      await tx.exec();
      return;
    }
    const run = (writes: Write[]) =>
      Promise.all(
        writes.map((write) => {
          const tx = this.redis.multi();
          write(tx);
          return tx.exec();
        }),
      );
    await run(indexes);
    await run(rest);
  }

  async find(model: string, id: string): Promise<Payload | undefined> {
    const data = await this.redis.hgetall(this.key(model, id));
    if (!data.payload) return undefined;
    const payload = JSON.parse(data.payload) as Payload;
    if (data.consumed) payload.consumed = Number(data.consumed);
    return payload;
  }

  private async findVia(kind: 'uid' | 'usercode', model: string, value: string) {
    const id = await this.redis.get(this.lookupKey(kind, model, value));
    return id ? this.find(model, id) : undefined;
  }

  findByUid(model: string, uid: string) {
    return this.findVia('uid', model, uid);
  }

  findByUserCode(model: string, userCode: string) {
    return this.findVia('usercode', model, userCode);
  }

  readonly claimsConsumes = true;

  async consume(model: string, id: string, claim = ''): Promise<boolean> {
    return (await this.redis.eval(CONSUME, 1, this.key(model, id), String(nowSeconds()), claim)) === 1;
  }

  async unconsume(model: string, id: string, claim: string): Promise<void> {
    await this.redis.eval(UNCONSUME, 1, this.key(model, id), claim);
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.redis.del(this.key(model, id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.grantKey(grantId);
    const keys = await this.redis.smembers(grantKey);
    if (!this.cluster) {
      await this.redis.del(...keys, grantKey);
      return;
    }
    // One DEL per key (they lie in different slots), the index last: should this stop half-way, the
    // index still names what is left for the next revocation.
    await Promise.all(keys.map((k) => this.redis.del(k)));
    await this.redis.del(grantKey);
  }

  async listByAccount(accountId: string, model: string) {
    const setKey = this.accountKey(accountId, model);
    const ids = await this.redis.smembers(setKey);
    const found = await Promise.all(ids.map(async (id) => ({ id, payload: await this.find(model, id) })));
    const gone = found.filter((f) => !f.payload).map((f) => f.id);
    if (gone.length) await this.redis.srem(setKey, ...gone);
    return found.filter((f): f is { id: string; payload: Payload } => f.payload !== undefined);
  }

  async sweep(): Promise<number> {
    return 0; // Redis expires artifacts itself; index sets are pruned on read.
  }

  async close(): Promise<void> {
    // The connection belongs to the composition root, which closes it.
  }
}
