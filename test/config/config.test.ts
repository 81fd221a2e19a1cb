import { ConfigError, loadConfig } from '../../src/config/index.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('configuration', () => {
  it('has working defaults for a first start', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.issuer).toBe('http://localhost:3000');
    expect(c.database).toEqual({ kind: 'sqlite', filename: 'data/gatehouse.db' });
    expect(c.redis).toBeUndefined();
    expect(c.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(c.lifetimes.refreshTokenMaxHours).toBe(8760);
    expect(c.trustedProxies).toEqual([]);
  });

  it('derives the issuer from PORT and reads PostgreSQL and Redis URLs', () => {
    const c = loadConfig({ PORT: '4000', DATABASE_URL: 'postgres://u@db/gh', REDIS_URL: 'redis://cache:6379' });
    expect(c.issuer).toBe('http://localhost:4000');
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@db/gh', schema: 'public' });
    expect(c.redis).toEqual({ url: 'redis://cache:6379', prefix: 'gatehouse:', timeoutMs: 1000 });
    // A bounded wait for Redis, configurable, never above the 2 s the contract allows by default.
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379', REDIS_TIMEOUT_MS: '250' }).redis?.timeoutMs).toBe(250);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['ISSUER', 'not a url'],
    ['ISSUER', 'ftp://id.example.com'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://cache'],
    ['REDIS_TIMEOUT_MS', '0'],
    ['ARGON2_MEMORY_KIB', '1024'],
    ['TRUSTED_PROXIES', '10.0.0.0/8,not-an-ip'],
    ['LOG_LEVEL', 'loud'],
    ['COOKIE_KEYS', 'short'],
    ['RESOURCE_SERVERS', '{not json'],
    ['RESOURCE_SERVERS', '{"not a url":{}}'],
    ['REFRESH_TOKEN_MAX_HOURS', '0'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '0.0.0.0/0'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '::/0'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '10.0.0.010'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '2130706433'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '0x7f.0.0.1'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '10.0.0.0/33'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', '*.corp.example'],
    ['BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS', 'http://app.internal'],
  ])('refuses a bad %s (%s), naming the variable', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith(`${name}`))).toBe(true);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'x', LOG_LEVEL: 'loud' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['LOG_LEVEL', 'PORT']);
  });

  it('in production refuses an http issuer off loopback and generated cookie keys', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER: 'http://id.example.com' });
    expect(problems).toEqual([
      expect.stringMatching(/^ISSUER: must be https/),
      expect.stringMatching(/^COOKIE_KEYS: required in production/),
      expect.stringMatching(/^DATA_ENCRYPTION_KEY: required in production/),
    ]);
    const keys = 'k'.repeat(32);
    const secrets = { COOKIE_KEYS: keys, DATA_ENCRYPTION_KEY: 'd'.repeat(32) };
    expect(loadConfig({ NODE_ENV: 'production', ISSUER: 'https://id.example.com', ...secrets }).cookieKeys).toEqual([keys]);
    expect(loadConfig({ NODE_ENV: 'production', ISSUER: 'http://127.0.0.1:3000', ...secrets }).issuer).toBe('http://127.0.0.1:3000');
  });

  it('parses trusted proxies and resource servers', () => {
    const c = loadConfig({
      TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.5,::1',
      RESOURCE_SERVERS: '{"https://api.example.com/":{"scopes":["read"]}}',
    });
    expect(c.trustedProxies).toEqual(['10.0.0.0/8', '192.168.1.5', '::1']);
    expect(c.resourceServers).toEqual({ 'https://api.example.com/': { scopes: ['read'] } });
  });

  it('parses the back-channel logout allowlist: canonical addresses, CIDR blocks and host names', () => {
    expect(loadConfig({}).backchannelLogoutAllowed).toEqual([]);
    const c = loadConfig({ BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS: '10.20.0.0/16, 127.0.0.1,fd00::/8, ::1, app.internal,Portal.Corp.example' });
    expect(c.backchannelLogoutAllowed).toEqual(['10.20.0.0/16', '127.0.0.1', 'fd00::/8', '::1', 'app.internal', 'Portal.Corp.example']);
  });
});
