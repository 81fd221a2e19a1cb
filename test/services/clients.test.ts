import { digestClientSecret, redirectUriProblem } from '../../src/services/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/services/errors.js';
import { openServices, type Services } from '../../src/services/index.js';
import { testBackend } from '../helpers/backend.js';

describe('redirect URI rules', () => {
  it.each([
    ['web', 'https://app.example.com/callback', null],
    ['web', 'http://localhost:8080/callback', null],
    ['web', 'http://127.0.0.1:8080/callback', null],
    ['web', 'http://app.example.com/callback', /https/],
    ['web', 'https://app.example.com/callback#frag', /fragment/],
    ['web', 'https://*.example.com/callback', /wildcard/],
    ['web', 'https://user:pw@app.example.com/cb', /credentials/],
    ['web', 'com.example.app:/callback', /https/],
    ['web', '/relative', /absolute/],
    ['mobile', 'com.example.app:/callback', null],
    ['mobile', 'http://127.0.0.1/callback', null],
    ['desktop', 'http://[::1]:53682/callback', null],
    ['desktop', 'https://app.example.com/callback', null],
    ['mobile', 'http://localhost/callback', null],
    ['desktop', 'http://localhost:4242/redirect', null],
    ['desktop', 'http://localhost.evil.example/callback', /loopback host/],
    ['desktop', 'http://127.0.0.2/callback', /loopback host/],
    ['mobile', 'myapp:/callback', /reverse-domain/],
    ['mobile', 'com.example.app://host/callback', /path, not a host/],
    ['desktop', 'http://192.168.1.10/callback', /loopback host/],
  ] as const)('%s %s', (type, uri, expected) => {
    const problem = redirectUriProblem(uri, type);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});

describe('client registration', () => {
  const backend = testBackend();
  let services: Services;
  beforeAll(async () => (services = await openServices(backend.config())));
  afterAll(async () => (await services.close(), await backend.cleanup()));

  it('web clients are confidential; only the digest of the secret is stored', async () => {
    const { client, clientSecret } = await services.clients.create({
      clientName: 'Portal',
      sessionType: 'web',
      redirectUris: ['https://portal.example.com/cb'],
    });
    expect(clientSecret).toMatch(/^[\w-]{43}$/);
    expect(client.metadata).toMatchObject({
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      session_type: 'web',
      first_party: true,
      client_secret: digestClientSecret(clientSecret!),
    });
    const stored = await services.db('clients').where({ client_id: client.clientId }).first();
    expect(stored.metadata).not.toContain(clientSecret);
  });

  it('names clients by their registered names; a client deleted since keeps its id', async () => {
    const { client } = await services.clients.create({ clientName: 'Field app', sessionType: 'mobile', redirectUris: ['com.example.field:/cb'] });
    const { client: gone } = await services.clients.create({ clientName: 'Old app', sessionType: 'mobile', redirectUris: ['com.example.old:/cb'] });
    await services.clients.remove(gone.clientId);
    const names = await services.clients.namesOf([client.clientId, gone.clientId, client.clientId]);
    expect([...names]).toEqual([
      [client.clientId, 'Field app'],
      [gone.clientId, gone.clientId],
    ]);
  });

  it.each(['mobile', 'desktop'] as const)('%s clients are public native clients', async (sessionType) => {
    const { client, clientSecret } = await services.clients.create({
      clientName: 'App',
      sessionType,
      redirectUris: ['com.example.app:/cb'],
      thirdParty: true,
    });
    expect(clientSecret).toBeUndefined();
    expect(client.metadata).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none', first_party: false });
    expect(client.metadata.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  it('reports every bad field and stores nothing', async () => {
    const before = await services.db('clients').count({ n: '*' }).first();
    const err = await services.clients
      .create({ clientName: '', sessionType: 'tv' as never, redirectUris: [] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors.map((e) => e.field).sort()).toEqual(['clientName', 'redirectUris', 'sessionType']);
    const bad = await services.clients
      .create({ clientName: 'X', sessionType: 'mobile', redirectUris: ['com.example.app:/ok', 'http://evil.example/cb'] })
      .catch((e: ValidationError) => e);
    expect((bad as ValidationError).errors).toEqual([{ field: 'redirectUris.1', message: expect.stringContaining('loopback host') }]);
    expect(await services.db('clients').count({ n: '*' }).first()).toEqual(before);
  });
});

describe('changing a registration', () => {
  const backend = testBackend();
  let services: Services;
  beforeAll(async () => (services = await openServices(backend.config())));
  afterAll(async () => (await services.close(), await backend.cleanup()));

  const web = () =>
    services.clients.create({ clientName: 'Portal', sessionType: 'web', redirectUris: ['https://portal.example.com/cb'], backchannelLogoutUri: 'https://portal.example.com/bcl' });

  it('changes the name, URIs and party; the client id, secret and session type stay', async () => {
    const { client } = await web();
    const { before, after } = await services.clients.update(client.clientId, {
      clientName: 'Portal 2',
      redirectUris: ['https://portal.example.com/cb2', 'https://portal.example.com/cb3'],
      postLogoutRedirectUris: ['https://portal.example.com/bye'],
      thirdParty: true,
    });
    expect(before).toEqual(client);
    const stored = (await services.clients.find(client.clientId))!;
    expect(stored).toEqual(after);
    expect(stored).toMatchObject({ clientName: 'Portal 2', sessionType: 'web', firstParty: false, createdAt: client.createdAt });
    expect(stored.metadata).toEqual({
      ...client.metadata,
      client_name: 'Portal 2',
      first_party: false,
      redirect_uris: ['https://portal.example.com/cb2', 'https://portal.example.com/cb3'],
      post_logout_redirect_uris: ['https://portal.example.com/bye'],
      // No back-channel URI given: the registration no longer has one.
      backchannel_logout_uri: undefined,
      backchannel_logout_session_required: undefined,
    });
    expect(stored.metadata.client_secret).toBe(client.metadata.client_secret);
  });

  it('checks the URIs for the client\'s own kind, and changes nothing when one is refused', async () => {
    const { client } = await services.clients.create({ clientName: 'App', sessionType: 'mobile', redirectUris: ['com.example.app:/cb'] });
    const err = await services.clients.update(client.clientId, { clientName: 'App', redirectUris: ['com.example.app:/cb2', 'http://evil.example/cb'], postLogoutRedirectUris: [], thirdParty: false }).catch((e: unknown) => e);
    expect((err as ValidationError).errors).toEqual([{ field: 'redirectUris.1', message: expect.stringContaining('loopback host') }]);
    expect(await services.clients.find(client.clientId)).toEqual(client);
  });

  it('refuses built-in clients and answers a missing one as not found', async () => {
    await services.clients.ensureConsole('gatehouse-console', 'http://127.0.0.1:1');
    await expect(services.clients.update('gatehouse-console', { clientName: 'Mine', redirectUris: ['https://x.example/cb'], postLogoutRedirectUris: [], thirdParty: false })).rejects.toBeInstanceOf(ConflictError);
    await expect(services.clients.update('no-such-client', { clientName: 'X', redirectUris: ['https://x.example/cb'], postLogoutRedirectUris: [], thirdParty: false })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a secret rotated and a registration changed at the same moment both hold (neither write undoes the other)', async () => {
    for (let round = 0; round < 5; round++) {
      const { client } = await web();
      const [rotated] = await Promise.all([
        services.clients.rotateSecret(client.clientId),
        services.clients.update(client.clientId, { clientName: `Renamed ${round}`, redirectUris: ['https://portal.example.com/new'], postLogoutRedirectUris: [], thirdParty: false }),
      ]);
      const stored = (await services.clients.find(client.clientId))!;
      expect(stored.metadata.client_secret).toBe(digestClientSecret(rotated.clientSecret));
      expect(stored).toMatchObject({ clientName: `Renamed ${round}`, metadata: expect.objectContaining({ redirect_uris: ['https://portal.example.com/new'] }) });
    }
  });

  it('a client deleted while its secret is rotated or its registration changed stays deleted', async () => {
    for (let round = 0; round < 5; round++) {
      const { client } = await web();
      const outcomes = await Promise.allSettled([
        services.clients.remove(client.clientId),
        services.clients.rotateSecret(client.clientId),
        services.clients.update(client.clientId, { clientName: 'Back?', redirectUris: ['https://portal.example.com/cb'], postLogoutRedirectUris: [], thirdParty: false }),
      ]);
      expect(outcomes[0].status).toBe('fulfilled');
      for (const o of outcomes.slice(1)) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(NotFoundError);
      expect(await services.clients.find(client.clientId)).toBeUndefined();
    }
  });
});
