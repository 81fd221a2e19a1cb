/**
 * The baseline `npm run bench` measures Gatehouse against: the thinnest OpenID Connect provider one could
 * write with the same oidc-provider 9 and argon2 library (@node-rs/argon2, as the server). Memory adapter (oidc-provider's default), one client,
 * users held in memory with argon2id hashes at Gatehouse's configured parameters, and a password form whose
 * one POST finishes login and consent together. Tokens are issued as Gatehouse issues them for the same
 * client: opaque access tokens without a resource, RFC 9068 JWTs (RS256) for a configured resource server,
 * rotating refresh tokens, client credentials, userinfo and introspection.
 *
 * Started by bench/run.ts as its own child process; configured by BASELINE_* environment variables.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import Provider, { errors, type Configuration } from 'oidc-provider';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`baseline: ${name} is not set`);
  return value;
};
const port = Number(env('BASELINE_PORT'));
const issuer = `http://127.0.0.1:${port}`;
const client = JSON.parse(env('BASELINE_CLIENT')) as { clientId: string; clientSecret: string; redirectUri: string };
const resource = JSON.parse(env('BASELINE_RESOURCE')) as { uri: string; scopes: string[] };
const params = JSON.parse(env('BASELINE_ARGON2')) as { memoryCost: number; timeCost: number; parallelism: number };
const users = JSON.parse(env('BASELINE_USERS')) as { emails: string[]; password: string };
const accessTokenSeconds = Number(process.env.BASELINE_ACCESS_TOKEN_SECONDS ?? 600);

interface User {
  id: string;
  email: string;
  hash: string;
}
const byEmail = new Map<string, User>();
const byId = new Map<string, User>();
for (const email of users.emails) {
  const user = { id: randomBytes(8).toString('hex'), email, hash: await argon2Hash(users.password, { algorithm: 2 as Algorithm /* Argon2id */, ...params }) };
  byEmail.set(email, user);
  byId.set(user.id, user);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'baseline', alg: 'RS256', use: 'sig' };

const configuration: Configuration = {
  clients: [
    {
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: [client.redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk as never] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(_ctx, id) {
    const user = byId.get(id);
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email: user.email, email_verified: true }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'email'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined!,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource.uri) throw new errors.InvalidTarget();
        return {
          scope: resource.scopes.join(' '),
          audience: indicator,
          accessTokenFormat: 'jwt',
          accessTokenTTL: accessTokenSeconds,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTokenSeconds,
    ClientCredentials: accessTokenSeconds,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 86400,
    RefreshToken: 86400,
    Grant: 86400,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
};

const provider = new Provider(issuer, configuration);
const handle = provider.callback();

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};
const sameString = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  if (url.pathname === '/healthz') {
    res.end('ok');
    return;
  }
  if (!url.pathname.startsWith('/interaction/')) {
    handle(req, res);
    return;
  }
  void (async () => {
    // The interaction cookie names the interaction; its uid, which the form carries, stands for a CSRF token.
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(
        `<!doctype html><form method="post" action="/interaction/${details.uid}/password">` +
          `<input type="hidden" name="csrf" value="${details.uid}"><input name="email"><input name="password" type="password">` +
          `<button>Sign in</button></form>`,
      );
      return;
    }
    const form = await readBody(req);
    const user = byEmail.get(form.get('email') ?? '');
    const ok =
      sameString(form.get('csrf') ?? '', details.uid) && user !== undefined && (await argon2Verify(user.hash, form.get('password') ?? ''));
    if (!ok) {
      res.statusCode = 401;
      res.end('invalid credentials');
      return;
    }
    const grant = new provider.Grant({ accountId: user.id, clientId: details.params.client_id as string });
    grant.addOIDCScope(String(details.params.scope));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { login: { accountId: user.id }, consent: { grantId } }, { mergeWithLastSubmission: false });
  })().catch((err: Error) => {
    if (!res.headersSent) res.statusCode = 400;
    res.end(err.message);
  });
});
server.listen(port, '127.0.0.1');
