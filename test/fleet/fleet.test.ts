import { jest } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, errorsOn } from '../helpers/browser.js';
import { TestDnsServer } from '../helpers/dns.js';
import { FLEET_BACKENDS, FLEET_SKIP_REASON, PIN_HEADER, startFleet, type Fleet } from '../helpers/fleet.js';
import { consoleSignIn } from '../helpers/console.js';
import { SESSION_COOKIE } from '../../src/console/session.js';
import { openServices } from '../../src/services/index.js';
import { RP, RP_CALLBACK, RP_LOGGED_OUT, signIn, startSignIn, type TestClient } from '../helpers/oidc.js';
import { pageOf } from '../helpers/password-flows.js';

/**
 * Several Gatehouse processes on one PostgreSQL + Redis behind a round-robin proxy behave as one:
 * every step of a sign-in may land on a different node, and what one node changes (a lock, an unlock,
 * a policy, a disabled user, a revoked domain) holds on the very next request to any other. A node
 * killed with SIGKILL mid-burst loses nothing of a sign-in that completed, and the others carry on.
 */
const PASSWORD = 'Fleet-Pass-Word-42';
const WRONG = 'Wrong-Pass-Word-42';
const GENERIC = 'Incorrect email or password.';
// The lock says how long it still lasts (strategies/password.ts lockedFor).
const LOCKED = expect.stringMatching(/^Too many failed sign-ins\. Try again in \d+ minutes?, or reset your password\.$/);
const BLOCKED = 'Your organization does not allow signing in from this network.';

const describeFleet = FLEET_BACKENDS ? describe : describe.skip;
if (!FLEET_BACKENDS) {
  describe('fleet', () => {
    it.skip(`skipped: ${FLEET_SKIP_REASON}`, () => undefined);
  });
}

jest.setTimeout(60_000);

let fleet: Fleet;
let dns: TestDnsServer;
let web: TestClient;
let n = 0;

if (FLEET_BACKENDS) {
  beforeAll(async () => {
    dns = new TestDnsServer();
    const dnsAddress = await dns.start();
    fleet = await startFleet({ env: { DNS_SERVERS: dnsAddress, DNS_TIMEOUT_MS: '5000' } });
    const res = await fleet.api('POST', '/clients', {
      client_name: 'Fleet app',
      session_type: 'web',
      redirect_uris: [RP_CALLBACK],
      post_logout_redirect_uris: [RP_LOGGED_OUT],
    });
    expect(res.status).toBe(201);
    const clientId = res.body.client_id as string;
    const secret = res.body.client_secret as string;
    const config = await client.discovery(new URL(fleet.issuer), clientId, secret, client.ClientSecretBasic(secret), {
      execute: [client.allowInsecureRequests],
    });
    web = { clientId, clientSecret: secret, config };
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    await dns?.stop();
  });
}

async function user(domain = 'fleet.example', node?: number) {
  const email = `f${++n}.${Date.now().toString(36)}@${domain}`;
  const res = await fleet.api('POST', '/users', { email, password: PASSWORD }, { node });
  expect(res.status).toBe(201);
  return { email, id: res.body.id as string };
}

/** The nodes that served the requests made while `fn` ran. */
async function nodesServing<T>(fn: () => Promise<T>): Promise<{ result: T; nodes: number[] }> {
  const from = fleet.served.length;
  const result = await fn();
  return { result, nodes: fleet.served.slice(from).map((r) => r.node) };
}

/** One password submission from a fresh sign-in, every request on `node`; the status and the errors shown. */
async function attempt(email: string, password: string, node: number) {
  fleet.pin(node);
  try {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email, password });
    if (res.status === 303) return { status: 303, errors: [] as string[] };
    return { status: res.status, errors: errorsOn(await pageOf(res, loginPage.url)) };
  } finally {
    fleet.pin(null);
  }
}

/** A full sign-in with every request on `node`; returns the tokens. */
async function signInOn(email: string, node: number) {
  fleet.pin(node);
  try {
    return (await signIn(new Browser(), web, email, PASSWORD)).tokens;
  } finally {
    fleet.pin(null);
  }
}

async function refreshOn(refreshToken: string, node: number) {
  fleet.pin(node);
  try {
    return await client.refreshTokenGrant(web.config, refreshToken);
  } finally {
    fleet.pin(null);
  }
}

async function organizationWithDomain(name: string, domain: string, node: number) {
  const org = await fleet.api('POST', '/organizations', { name }, { node });
  expect(org.status).toBe(201);
  const claim = await fleet.api('POST', `/organizations/${org.body.id}/domains`, { domain }, { node });
  expect(claim.status).toBe(201);
  dns.txt.set(`_gatehouse-challenge.${domain}`, [[claim.body.verification.value]]);
  const verified = await fleet.api('POST', `/organizations/${org.body.id}/domains/${domain}/verify`, undefined, { node });
  expect(verified).toMatchObject({ status: 200, body: { status: 'verified' } });
  return org.body.id as string;
}

const WHITELIST_ELSEWHERE = { login: { ipWhitelist: { enabled: true, cidrs: ['203.0.113.0/24'] } } };

describeFleet('three nodes behind a round-robin proxy', () => {
  it('every node is up, answers as the one issuer and publishes the same keys', async () => {
    const discoveries = await Promise.all(fleet.nodes.map(async (_, i) => {
      const res = await fetch(`${fleet.issuer}/.well-known/openid-configuration`, { headers: { 'x-fleet-node': String(i) } });
      return (await res.json()) as { issuer: string };
    }));
    for (const d of discoveries) expect(d.issuer).toBe(fleet.issuer);
    const jwks = await Promise.all(fleet.nodes.map(async (_, i) => (await fetch(`${fleet.issuer}/jwks`, { headers: { 'x-fleet-node': String(i) } })).text()));
    expect(new Set(jwks).size).toBe(1);
  });

  it('a sign-in whose steps land on three different nodes completes, and the code exchanges on another', async () => {
    const u = await user();
    const browser = new Browser();
    fleet.pin(0);
    const { result: started, nodes: first } = await nodesServing(() => startSignIn(browser, web));
    fleet.pin(1);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: u.email, password: PASSWORD });
    expect(res.status).toBe(303);
    fleet.pin(2);
    const { result: next, nodes: third } = await nodesServing(() =>
      browser.follow(new URL(res.headers.get('location')!, started.loginPage.url).href, (url) => url.startsWith(RP)));
    expect(next).toHaveProperty('redirectedTo');
    fleet.pin(0);
    const tokens = await client.authorizationCodeGrant(web.config, new URL((next as { redirectedTo: string }).redirectedTo), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
    fleet.pin(null);
    expect(first.every((i) => i === 0) && third.every((i) => i === 2) && third.length > 0).toBe(true);
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    // The tokens work anywhere.
    const info = await client.fetchUserInfo(web.config, tokens.access_token, tokens.claims()!.sub);
    expect(info.email).toBe(u.email);
    const refreshed = await refreshOn(tokens.refresh_token!, 1);
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('a plain round-robin sign-in (no pinning) completes', async () => {
    const u = await user();
    const { nodes } = await nodesServing(() => signIn(new Browser(), web, u.email, PASSWORD));
    expect(new Set(nodes).size).toBe(3);
  });

  it('5 failed sign-ins spread across nodes lock the account; an unlock on node 0 lets the next sign-in on node 1 through', async () => {
    const u = await user();
    for (let i = 0; i < 5; i++) expect(await attempt(u.email, WRONG, i % 3)).toEqual({ status: 401, errors: [GENERIC] });
    // The 6th, with the right password, on yet another node.
    expect(await attempt(u.email, PASSWORD, 2)).toEqual({ status: 429, errors: [LOCKED] });
    expect(await attempt(u.email, PASSWORD, 0)).toEqual({ status: 429, errors: [LOCKED] });
    expect((await fleet.api('GET', `/users/${u.id}`, undefined, { node: 1 })).body.lockedUntil).toEqual(expect.any(String));
    expect((await fleet.api('POST', `/users/${u.id}/unlock`, undefined, { node: 0 })).status).toBe(200);
    expect((await attempt(u.email, PASSWORD, 1)).status).toBe(303);
  });

  it('parallel wrong attempts across all nodes check the hash 5 times and lock', async () => {
    const u = await user();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => attemptUnpinned(u.email, WRONG, i % 3)));
    expect(results.filter((r) => r.status === 401)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(7);
  });

  it('a policy stored through node 0 holds on the very next request at node 2, and its removal likewise', async () => {
    const domain = `policy${Date.now().toString(36)}.example`;
    const orgId = await organizationWithDomain('Policy Org', domain, 0);
    const u = await user(domain);
    expect((await attempt(u.email, PASSWORD, 2)).status).toBe(303);
    expect((await fleet.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: WHITELIST_ELSEWHERE }, { node: 0 })).status).toBe(200);
    expect(await attempt(u.email, PASSWORD, 2)).toEqual({ status: 403, errors: [BLOCKED] });
    expect(await attempt(u.email, PASSWORD, 1)).toEqual({ status: 403, errors: [BLOCKED] });
    expect((await fleet.api('PATCH', `/organizations/${orgId}/security-policy`, {
      policy: { login: { ipWhitelist: { enabled: false, cidrs: [] } } },
    }, { node: 1 })).status).toBe(200);
    expect((await attempt(u.email, PASSWORD, 0)).status).toBe(303);
  });

  it('a domain claim revoked on node 1 stops its organization\'s policy at once on node 2', async () => {
    const domain = `revoke${Date.now().toString(36)}.example`;
    const orgId = await organizationWithDomain('Revoked Org', domain, 1);
    expect((await fleet.api('PATCH', `/organizations/${orgId}/security-policy`, { policy: WHITELIST_ELSEWHERE }, { node: 1 })).status).toBe(200);
    const u = await user(domain);
    expect(await attempt(u.email, PASSWORD, 2)).toEqual({ status: 403, errors: [BLOCKED] });
    expect((await fleet.api('DELETE', `/organizations/${orgId}/domains/${domain}`, undefined, { node: 1 })).status).toBe(200);
    expect((await attempt(u.email, PASSWORD, 2)).status).toBe(303);
  });

  it('a user disabled through node 1 is refused at once on node 0: sign-in and refresh', async () => {
    const u = await user();
    const tokens = await signInOn(u.email, 2);
    expect((await fleet.api('POST', `/users/${u.id}/disable`, undefined, { node: 1 })).status).toBe(200);
    const refused = await attempt(u.email, PASSWORD, 0);
    expect(refused.status).not.toBe(303);
    await expect(refreshOn(tokens.refresh_token!, 0)).rejects.toMatchObject({ error: 'invalid_grant' });
    fleet.pin(0);
    try {
      await expect(client.fetchUserInfo(web.config, tokens.access_token, tokens.claims()!.sub)).rejects.toBeDefined();
    } finally {
      fleet.pin(null);
    }
  });

  it('a session ended through node 0 (RP-initiated logout) is gone on the next request to node 2', async () => {
    const u = await user();
    const browser = new Browser();
    fleet.pin(1);
    let tokens;
    try {
      tokens = (await signIn(browser, web, u.email, PASSWORD)).tokens;
    } finally {
      fleet.pin(null);
    }
    const silent = async (node: number) => {
      fleet.pin(node);
      try {
        const url = client.buildAuthorizationUrl(web.config, {
          redirect_uri: RP_CALLBACK,
          scope: 'openid',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        });
        return await browser.follow(url.href, (next) => next.startsWith(RP));
      } finally {
        fleet.pin(null);
      }
    };
    // The session is single sign-on on another node...
    expect(await silent(2)).toHaveProperty('redirectedTo');
    fleet.pin(0);
    try {
      const confirm = await browser.page(client.buildEndSessionUrl(web.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT }).href);
      expect((await browser.submit(confirm, 'form#op\\.logoutForm', { logout: 'yes' })).status).toBe(303);
    } finally {
      fleet.pin(null);
    }
    // ...and once ended on node 0, node 2 asks for the password again.
    const after = await silent(2);
    expect(after).not.toHaveProperty('redirectedTo');
    expect((after as { html: string }).html).toContain('/password');
  });

  it('a console session whose access token has run out, used on three nodes at the same moment: one refresh, every page served, still signed in', async () => {
    const org = await fleet.api('POST', '/organizations', { name: `Console ${++n}` });
    const owner = await user('console-fleet.example');
    expect((await fleet.api('POST', `/organizations/${org.body.id}/members`, { userId: owner.id, role: 'owner' })).status).toBe(200);
    const path = `/console/orgs/${org.body.id}/users`;
    const { browser, page } = await consoleSignIn(fleet.issuer, owner.email, PASSWORD, new Browser(), path);
    expect(page.status).toBe(200);
    const id = (await browser.jar.getCookies(`${fleet.issuer}${path}`)).find((c) => c.key === SESSION_COOKIE)!.value;
    const services = await openServices(fleet.backend.config(), { migrate: false });
    try {
      for (let round = 0; round < 3; round++) {
        // The stored access token is out of date, as it is 15 minutes on: the session's next request refreshes it.
        const stored = (await services.oidcStore.find('ConsoleSession', id))!;
        await services.oidcStore.upsert('ConsoleSession', id, { ...stored, expiresAt: 0 }, 3600);
        const nodes = [0, 1, 2, 0, 1, 2];
        const answers = await Promise.all(nodes.map((node) => browser.request(`${fleet.issuer}${path}`, { headers: { [PIN_HEADER]: String(node) } })));
        // Refreshing twice with one refresh token would read as replay and revoke the grant: sign-in pages, then.
        expect(answers.map((r) => r.status)).toEqual(nodes.map(() => 200));
        const renewed = (await services.oidcStore.find('ConsoleSession', id))!;
        expect(renewed.expiresAt).toBeGreaterThan(Date.now() / 1000);
        expect(renewed.consumed).toBeUndefined();
      }
    } finally {
      await services.close();
    }
  });

  it('a node killed with SIGKILL mid-burst: every completed sign-in keeps working and is audited; the others carry on', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, () => user()));
    let settled = 0;
    // Unpinned, round robin: each sign-in's steps spread over all three nodes, so some will meet the dead one.
    const burst = users.map(async (u) => {
      try {
        const { tokens } = await signIn(new Browser(), web, u.email, PASSWORD);
        return { u, tokens };
      } catch {
        return { u, tokens: undefined };
      } finally {
        settled++;
      }
    });
    // Kill node 1 once a few sign-ins have completed and the rest are still under way.
    const deadline = Date.now() + 20_000;
    while (settled < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const inFlightAtKill = users.length - settled;
    const from = fleet.served.length;
    await fleet.kill(1, 'SIGKILL');
    const outcomes = await Promise.all(burst);
    const completed = outcomes.filter((o) => o.tokens);
    // At least the sign-ins that never met node 1 complete; those that did may fail, but nothing is half-done.
    expect(completed.length).toBeGreaterThan(0);
    expect(inFlightAtKill).toBeGreaterThan(0);
    // The proxy went on serving after the kill, and never again from node 1.
    expect(fleet.served.slice(from).filter((r) => r.node === 1 && r.status !== 502)).toEqual([]);
    process.stdout.write(`fleet: ${inFlightAtKill} sign-ins in flight at SIGKILL, ${completed.length}/${users.length} completed\n`);

    for (const { u, tokens } of completed) {
      const refreshed = await refreshOn(tokens!.refresh_token!, 2);
      expect(refreshed.access_token).toEqual(expect.any(String));
      fleet.pin(0);
      try {
        expect((await client.fetchUserInfo(web.config, refreshed.access_token, tokens!.claims()!.sub)).email).toBe(u.email);
      } finally {
        fleet.pin(null);
      }
    }
    const events = (await fleet.api('GET', '/events?type=sign_in.succeeded&limit=200')).body.items as Array<{ data: { email: string } }>;
    for (const { u } of completed) expect(events.some((e) => e.data.email === u.email)).toBe(true);

    // The other two carry on: a fresh round-robin sign-in skips the dead node and completes; every user can sign in.
    for (const { u } of outcomes.filter((o) => !o.tokens)) {
      const retried = await signIn(new Browser(), web, u.email, PASSWORD);
      expect(retried.tokens.access_token).toEqual(expect.any(String));
    }
    // And the killed node comes back into the fleet.
    await fleet.restart(1);
    const u = await user();
    const back = await signInOn(u.email, 1);
    expect((await refreshOn(back.refresh_token!, 0)).access_token).toEqual(expect.any(String));
  });
});

/** One wrong/right attempt in parallel with others: every request of it carries the node header. */
async function attemptUnpinned(email: string, password: string, node: number) {
  const browser = new Browser();
  const header = { 'x-fleet-node': String(node) };
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(web.config, {
    redirect_uri: RP_CALLBACK,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  // Follow redirects by hand so each hop carries the header.
  let current = url.href;
  let res = await browser.request(current, { headers: header });
  for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops++) {
    current = new URL(res.headers.get('location')!, current).href;
    res = await browser.request(current, { headers: header });
  }
  const loginPage = await pageOf(res, current);
  const answer = await browser.submit(loginPage, 'form[action$="/password"]', { email, password }, header);
  return { status: answer.status };
}
