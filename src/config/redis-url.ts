/**
 * REDIS_URL names one of three Redis topologies:
 *
 *   redis://[[user]:password@]host[:port][/db]                 one server (rediss:// for TLS), as ioredis reads it
 *   redis+sentinel://[[user]:password@]host:port,host:port,…/masterName[?db=N&sentinelPassword=…]
 *                                                              a Sentinel set: the sentinels, then the master's name
 *   redis+cluster://[[user]:password@]host:port,host:port,…     a Redis Cluster: some of its nodes (the rest are discovered)
 *
 * The password (and user) in the userinfo is the data nodes' (requirepass / ACL); Sentinel's own password,
 * if the sentinels have one, goes in `sentinelPassword`. Special characters are percent-encoded as in any URL.
 */
export interface RedisAddress {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: 'standalone'; url: string }
  | { mode: 'sentinel'; sentinels: RedisAddress[]; name: string; username?: string; password?: string; sentinelPassword?: string; db: number }
  | { mode: 'cluster'; nodes: RedisAddress[]; username?: string; password?: string };

const MULTI = /^(redis|rediss)\+(sentinel|cluster):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`the ${what} is not validly percent-encoded`);
  }
}

function addresses(list: string, defaultPort: number): RedisAddress[] {
  if (!list) throw new Error('names no host: give at least one host:port');
  return list.split(',').map((entry) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(entry.trim());
    if (!m) throw new Error(`"${entry}" is not host:port`);
    const port = m[3] === undefined ? defaultPort : Number(m[3]);
    if (port < 1 || port > 65535) throw new Error(`"${entry}" has no valid port`);
    return { host: (m[1] ?? m[2])!, port };
  });
}

function credentials(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user name');
  const password = colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password');
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** Reads REDIS_URL; throws an Error whose message says what is wrong (the config prefixes the variable's name). */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) return { mode: 'standalone', url };
  const m = MULTI.exec(url);
  if (!m) {
    throw new Error('must be redis://… or rediss://… (one server), redis+sentinel://host:port,…/masterName (Sentinel) or redis+cluster://host:port,… (Cluster)');
  }
  const [, scheme, mode, userinfo, hosts, path = '', query = ''] = m;
  if (scheme === 'rediss') throw new Error(`TLS to a Sentinel set or a Cluster is not supported yet: use redis+${mode}://`);
  const params = new URLSearchParams(query);
  const allowed = mode === 'sentinel' ? ['db', 'sentinelPassword'] : [];
  const unknown = [...params.keys()].filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw new Error(`unknown parameter ${unknown.join(', ')} for redis+${mode}://${allowed.length ? ` (known: ${allowed.join(', ')})` : ' (it takes none)'}`);
  }
  const auth = credentials(userinfo);

  if (mode === 'cluster') {
    if (path !== '' && path !== '/') throw new Error('a Cluster has only database 0: remove the path after the hosts');
    return { mode: 'cluster', nodes: addresses(hosts!, 6379), ...auth };
  }

  const name = decode(path.replace(/^\//, ''), 'master name');
  if (!name || name.includes('/')) throw new Error('names no master: end it with /<masterName>, the name the sentinels monitor');
  const dbParam = params.get('db');
  if (dbParam !== null && !/^\d{1,2}$/.test(dbParam)) throw new Error('db must be a database number (0-15 by default)');
  const sentinelPassword = params.get('sentinelPassword') || undefined;
  return {
    mode: 'sentinel',
    sentinels: addresses(hosts!, 26379),
    name,
    ...auth,
    ...(sentinelPassword ? { sentinelPassword } : {}),
    db: dbParam === null ? 0 : Number(dbParam),
  };
}
