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
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@db/gh', schema: 'public', timeoutMs: 2000 });
    expect(c.redis).toEqual({ url: 'redis://cache:6379', target: { mode: 'standalone', url: 'redis://cache:6379' }, prefix: 'gatehouse:', timeoutMs: 1000 });
    // A bounded wait for Redis, configurable, never above the 2 s the contract allows by default.
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379', REDIS_TIMEOUT_MS: '250' }).redis?.timeoutMs).toBe(250);
  });

  it('reads a Sentinel set and a Cluster from REDIS_URL', () => {
    expect(loadConfig({ REDIS_URL: 'redis+sentinel://:s%40cret@s1:26379,s2,[::1]:26380/mymaster?db=2&sentinelPassword=sp' }).redis?.target).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'mymaster',
      password: 's@cret',
      sentinelPassword: 'sp',
      db: 2,
    });
    expect(loadConfig({ REDIS_URL: 'redis+cluster://gh:pw@n1:7000,n2:7001' }).redis?.target).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      username: 'gh',
      password: 'pw',
    });
    expect(loadConfig({ REDIS_URL: 'redis+cluster://n1' }).redis?.target).toEqual({ mode: 'cluster', nodes: [{ host: 'n1', port: 6379 }] });
  });

  it.each([
    ['redis+sentinel://s1:26379', /master/],
    ['redis+sentinel://s1:26379/m?db=x', /db/],
    ['redis+sentinel://s1:26379/m?dbs=1', /unknown parameter dbs/],
    ['redis+cluster://n1:7000/1', /only database 0/],
    ['redis+cluster://', /no host/],
    ['redis+cluster://n1:70000', /port/],
    ['redis+cluster://n1:7000,,n2:7001', /host:port/],
    ['rediss+cluster://n1:7000', /TLS/],
    ['redis+replica://n1', /redis\+sentinel:\/\/.*redis\+cluster:\/\//],
  ])('refuses REDIS_URL=%s saying why', (value, why) => {
    const problems = problemsOf({ REDIS_URL: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^REDIS_URL: /);
    expect(problems[0]).toMatch(why);
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

  describe('passkeys (WebAuthn)', () => {
    it('derives the relying party ID and origin from ISSUER, named "Gatehouse"', () => {
      expect(loadConfig({}).webauthn).toEqual({ rpId: 'localhost', rpName: 'Gatehouse', origins: ['http://localhost:3000'] });
      expect(loadConfig({ ISSUER: 'https://ID.Example.com:8443/auth' }).webauthn).toEqual({
        rpId: 'id.example.com',
        rpName: 'Gatehouse',
        origins: ['https://id.example.com:8443'],
      });
    });

    it('takes a parent domain as RP ID, several origins under it, and a name', () => {
      const c = loadConfig({
        ISSUER: 'https://id.example.com',
        WEBAUTHN_RP_ID: 'Example.com',
        WEBAUTHN_ORIGINS: 'https://id.example.com, https://login.example.com:443/,https://example.com:8443',
        WEBAUTHN_RP_NAME: ' Example Corp ',
      });
      expect(c.webauthn).toEqual({
        rpId: 'example.com',
        rpName: 'Example Corp',
        // As browsers report them: default port dropped, no trailing slash.
        origins: ['https://id.example.com', 'https://login.example.com', 'https://example.com:8443'],
      });
      // The RP ID alone: the origin stays the issuer's.
      expect(loadConfig({ ISSUER: 'https://id.example.com', WEBAUTHN_RP_ID: 'example.com' }).webauthn.origins).toEqual(['https://id.example.com']);
    });

    it.each([
      ['WEBAUTHN_RP_ID', 'https://example.com'],
      ['WEBAUTHN_RP_ID', 'example.com:443'],
      ['WEBAUTHN_RP_ID', '127.0.0.1'],
      ['WEBAUTHN_RP_ID', 'com'],
      ['WEBAUTHN_RP_ID', 'exa mple.com'],
      ['WEBAUTHN_ORIGINS', 'id.example.com'],
      ['WEBAUTHN_ORIGINS', 'https://id.example.com/login'],
      ['WEBAUTHN_ORIGINS', 'https://id.example.com?x'],
      ['WEBAUTHN_ORIGINS', 'https://user:pw@id.example.com'],
      ['WEBAUTHN_ORIGINS', 'ftp://id.example.com'],
      ['WEBAUTHN_ORIGINS', ','],
      ['WEBAUTHN_RP_NAME', ' '],
      ['WEBAUTHN_RP_NAME', 'n'.repeat(65)],
    ])('refuses a bad %s (%s), naming the variable', (name, value) => {
      const problems = problemsOf({ ISSUER: 'https://id.example.com', [name]: value });
      expect(problems.length).toBeGreaterThan(0);
      // A list entry is named with its position (WEBAUTHN_ORIGINS.0), as for the other lists.
      expect(problems.every((p) => new RegExp(`^${name}(\\.\\d+)?: `).test(p))).toBe(true);
    });

    it.each([
      // [RP ID, origins, the variable blamed]
      ['example.org', undefined, 'WEBAUTHN_RP_ID'],
      ['other.example.com', undefined, 'WEBAUTHN_RP_ID'], // a sibling, not a parent
      ['d.example.com', undefined, 'WEBAUTHN_RP_ID'], // "id.example.com" ends with "d.example.com" but not with ".d.example.com"
      ['example.com', 'https://id.example.com,https://login.example.net', 'WEBAUTHN_RP_ID'],
      [undefined, 'https://login.example.com', 'WEBAUTHN_ORIGINS'], // RP ID id.example.com from ISSUER
      [undefined, 'https://example.com', 'WEBAUTHN_ORIGINS'], // a parent of the RP ID is not covered by it
    ])('refuses RP ID %s for origins %s: the RP ID must be each origin\'s host or a parent domain (%s)', (rpId, origins, variable) => {
      const env: Record<string, string> = { ISSUER: 'https://id.example.com' };
      if (rpId) env.WEBAUTHN_RP_ID = rpId;
      if (origins) env.WEBAUTHN_ORIGINS = origins;
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${variable}: the relying party ID "${(rpId ?? 'id.example.com').replace(/\./g, '\\.')}" must be the host of each passkey origin or a parent domain`));
      expect(problems[0]).toContain(origins?.split(',').find((o) => !o.includes('id.example.com')) ?? 'https://id.example.com');
    });

    it('keeps an IP issuer\'s host as RP ID, exactly (browsers refuse passkeys there; nothing else breaks)', () => {
      expect(loadConfig({ ISSUER: 'http://127.0.0.1:3000' }).webauthn).toMatchObject({ rpId: '127.0.0.1', origins: ['http://127.0.0.1:3000'] });
      expect(problemsOf({ ISSUER: 'http://127.0.0.1:3000', WEBAUTHN_ORIGINS: 'http://localhost:3000' })).toEqual([
        expect.stringMatching(/^WEBAUTHN_ORIGINS: the relying party ID "127\.0\.0\.1" must be the host of each passkey origin.* http:\/\/localhost:3000$/),
      ]);
      expect(problemsOf({ ISSUER: 'http://127.0.0.1:3000', WEBAUTHN_RP_ID: '0.0.1' })).toEqual([expect.stringMatching(/^WEBAUTHN_RP_ID: must be a domain name/)]);
    });
  });
});
