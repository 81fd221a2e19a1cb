import { createHash, randomBytes } from 'node:crypto';

/** The bench client's redirect URI (nothing listens: the code is read off the Location header) and every bench user's password. */
export const CALLBACK = 'http://127.0.0.1:9/callback';
export const PASSWORD = 'Bench-Pass-123';

/** A cookie-keeping sign-in through the real pages, then the code exchange. Returns the token response. */
/** `afterEach`, when given, is awaited after every HTTP request with its method and path (bench:trace cuts its output there). */
export async function signIn(
  base: string,
  clientId: string,
  secret: string,
  email: string,
  afterEach?: (request: string) => Promise<void>,
) {
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    if (afterEach) {
      await res.clone().arrayBuffer();
      await afterEach(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
    }
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  };
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const auth = new URL('/auth', base);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid offline_access',
    prompt: 'consent',
    redirect_uri: CALLBACK,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })) auth.searchParams.set(k, v);
  let res = await send(auth.href);
  const interaction = new URL(res.headers.get('location')!, base).href;
  res = await send(interaction);
  const html = await res.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  res = await send(`${interaction}/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, email, password: PASSWORD }).toString(),
  });
  if (res.status !== 303) throw new Error(`password step answered ${res.status}`);
  let location = new URL(res.headers.get('location')!, base).href;
  while (!location.startsWith(CALLBACK)) {
    res = await send(location);
    await res.arrayBuffer();
    location = new URL(res.headers.get('location')!, base).href;
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code: ${location}`);
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier }).toString(),
  });
  if (afterEach) {
    await token.clone().arrayBuffer();
    await afterEach('POST /token');
  }
  if (token.status !== 200) throw new Error(`token endpoint answered ${token.status}: ${await token.text()}`);
  return (await token.json()) as { refresh_token: string; access_token: string };
}

