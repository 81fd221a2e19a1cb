import * as client from 'openid-client';
import { Browser, errorsOn, type Page } from '../helpers/browser.js';
import { authorizationUrl, RP, RP_CALLBACK, registerClient, startSignIn, submitPassword, type TestClient } from '../helpers/oidc.js';
import { startApp, type RunningApp } from '../helpers/server.js';

const EMAIL = 'bob@example.com';
const PASSWORD = 'Sturdy-Pass-42';
const GENERIC = 'Incorrect email or password.';

let running: RunningApp;
let web: TestClient;

beforeAll(async () => {
  running = await startApp();
  await running.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
  web = await registerClient(running.app, running.issuer);
});
afterAll(() => running.stop());

async function postLogin(browser: Browser, page: Page, fields: Record<string, string>) {
  const res = await browser.submit(page, 'form[action$="/password"]', fields);
  const html = await res.text();
  const { parse } = await import('node-html-parser');
  return { res, page: { ...page, html, doc: parse(html), status: res.status } as Page };
}

describe('the sign-in page', () => {
  it('is a labelled, password-manager-friendly form with a CSRF token, never framed or cached', async () => {
    const { loginPage } = await startSignIn(new Browser(), web);
    const form = loginPage.doc.querySelector('form[action$="/password"]')!;
    expect(form.getAttribute('method')).toBe('post');
    const email = form.querySelector('input[name=email]')!;
    const password = form.querySelector('input[name=password]')!;
    expect(email.getAttribute('autocomplete')).toBe('username webauthn') // conditional UI: passkeys offered in the field's autofill;
    expect(password.getAttribute('autocomplete')).toBe('current-password');
    expect(password.getAttribute('type')).toBe('password');
    for (const id of ['email', 'password']) expect(loginPage.doc.querySelector(`label[for=${id}]`)).toBeTruthy();
    expect(form.querySelector('input[name=csrf]')!.getAttribute('value')).toMatch(/^[\w-]{43}$/);
    // Works without JavaScript (these tests submit it with none); the passkey button's scripts are the
    // app's own files, none inline, and the password form does not depend on them.
    const scripts = loginPage.doc.querySelectorAll('script');
    expect(scripts.map((sc) => sc.getAttribute('src'))).toEqual(['/assets/local-time.js', '/assets/webauthn.js', '/assets/passkey.js']);
    expect(scripts.every((sc) => sc.text.trim() === '')).toBe(true);
    expect(loginPage.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(loginPage.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(loginPage.headers.get('x-frame-options')).toBe('DENY');
    expect(loginPage.headers.get('cache-control')).toBe('no-store');
  });

  it('sets HttpOnly, SameSite=Lax cookies', async () => {
    const browser = new Browser();
    const url = await authorizationUrl(web);
    const res = await browser.request(url);
    const cookies = res.headers.getSetCookie().filter((c) => c.startsWith('_interaction'));
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) {
      expect(c.toLowerCase()).toContain('httponly');
      expect(c.toLowerCase()).toContain('samesite=lax');
    }
  });

  it('answers a correct password with 303', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const res = await browser.submit(loginPage, 'form[action$="/password"]', { email: EMAIL, password: PASSWORD });
    expect(res.status).toBe(303);
  });
});

describe('bad input at the sign-in page', () => {
  it('missing fields: 400 naming each, the form shown again', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const none = await postLogin(browser, loginPage, {});
    expect(none.res.status).toBe(400);
    expect(errorsOn(none.page)).toEqual(['Enter your email address.', 'Enter your password.']);

    const noPassword = await postLogin(browser, loginPage, { email: EMAIL });
    expect(errorsOn(noPassword.page)).toEqual(['Enter your password.']);
    expect(noPassword.page.doc.querySelector('input[name=email]')!.getAttribute('value')).toBe(EMAIL);

    // Nothing was lost: the same flow still completes.
    const callback = await submitPassword(browser, noPassword.page, EMAIL, PASSWORD);
    expect(new URL(callback).searchParams.has('code')).toBe(true);
  });

  it('a wrong CSRF token: 403, and the password is not checked', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const forged = await postLogin(browser, loginPage, { csrf: 'forged', email: EMAIL, password: PASSWORD });
    expect(forged.res.status).toBe(403);
    expect(errorsOn(forged.page)).toEqual(['This form has expired. Please try again.']);
    const callback = await submitPassword(browser, forged.page, EMAIL, PASSWORD);
    expect(new URL(callback).searchParams.has('code')).toBe(true);
  });

  it('an unknown email and a wrong password read the same', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const unknown = await postLogin(browser, loginPage, { email: 'nobody@example.com', password: PASSWORD });
    const wrong = await postLogin(browser, loginPage, { email: EMAIL, password: 'Wrong-Pass-42' });
    expect(unknown.res.status).toBe(401);
    expect(wrong.res.status).toBe(401);
    expect(errorsOn(unknown.page)).toEqual([GENERIC]);
    expect(errorsOn(wrong.page)).toEqual([GENERIC]);
  });

  it('a 10,000-character password is refused like any wrong password', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const long = await postLogin(browser, loginPage, { email: EMAIL, password: 'x'.repeat(10_000) });
    expect(long.res.status).toBe(401);
    expect(errorsOn(long.page)).toEqual([GENERIC]);
  });

  it('a POST for a step the flow is not in goes back to the current step', async () => {
    const browser = new Browser();
    const { loginPage } = await startSignIn(browser, web);
    const csrf = loginPage.doc.querySelector('input[name=csrf]')!.getAttribute('value')!;
    const res = await browser.request(loginPage.url + '/consent', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, decision: 'allow' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(new URL(loginPage.url).pathname);
  });

  it('an unknown or foreign interaction shows the error page', async () => {
    const res = await new Browser().request(`${running.issuer}/interaction/not-a-real-uid`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in has expired');
  });
});

describe('bad authorization requests', () => {
  async function authorize(params: Record<string, string>) {
    const url = new URL(`${running.issuer}/auth`);
    const base = {
      client_id: web.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: RP_CALLBACK,
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries({ ...base, ...params })) if (v !== '') url.searchParams.set(k, v);
    return new Browser().request(url.href);
  }

  it.each([
    ['unregistered', 'https://evil.example/callback'],
    ['trailing slash', `${RP_CALLBACK}/`],
    ['other port', 'http://127.0.0.1:9000/callback'],
    ['other case', `${RP}/Callback`],
    ['extra query', `${RP_CALLBACK}?x=1`],
    ['https instead of http', RP_CALLBACK.replace('http:', 'https:')],
  ])('a %s redirect URI gets an error page, never a redirect', async (_label, redirectUri) => {
    const res = await authorize({ redirect_uri: redirectUri });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('redirect_uri');
  });

  it.each([
    ['missing PKCE', { code_challenge: '', code_challenge_method: '' }, /requires PKCE/],
    ['plain PKCE', { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }, /code_challenge_method/],
  ])('%s is refused back to the client with invalid_request', async (_label, params, description) => {
    const res = await authorize(params);
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(RP_CALLBACK);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(description);
  });

  it('a reused authorization code is refused and revokes what the first use issued', async () => {
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const callback = new URL(await submitPassword(browser, started.loginPage, EMAIL, PASSWORD));
    const tokens = await client.authorizationCodeGrant(web.config, callback, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
    });
    await expect(
      client.authorizationCodeGrant(web.config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await client.tokenIntrospection(web.config, tokens.access_token)).active).toBe(false);
  });

  it('a code exchanged with the wrong PKCE verifier is refused', async () => {
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const callback = new URL(await submitPassword(browser, started.loginPage, EMAIL, PASSWORD));
    await expect(
      client.authorizationCodeGrant(web.config, callback, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: started.state,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('consent', () => {
  it('a first-party client\'s consent comes with the login: the redirect after the password leads straight to the code', async () => {
    const browser = new Browser();
    const started = await startSignIn(browser, web);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: EMAIL, password: PASSWORD });
    expect(res.status).toBe(303);
    const resume = new URL(res.headers.get('location')!, started.loginPage.url).href;
    expect(new URL(resume).pathname).toMatch(/^\/auth\//);
    // One redirect: the resume answers with the code, not with another (consent) interaction.
    const answer = await browser.request(resume);
    expect(answer.status).toBe(303);
    const callback = new URL(answer.headers.get('location')!);
    expect(callback.href.startsWith(RP_CALLBACK)).toBe(true);
    const tokens = await client.authorizationCodeGrant(web.config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state });
    // Exactly what was asked for (startSignIn asks for these four), no more.
    expect(tokens.scope!.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('a second user signing in over the first one\'s browser session gets a grant of their own (and the interaction survives the first session\'s end)', async () => {
    const other = 'carol@example.com';
    await running.app.services.accounts.create({ email: other, password: PASSWORD });
    const browser = new Browser();
    const first = await startSignIn(browser, web, { scope: 'openid' });
    const firstTokens = await client.authorizationCodeGrant(web.config, new URL(await submitPassword(browser, first.loginPage, EMAIL, PASSWORD)), {
      pkceCodeVerifier: first.verifier,
      expectedState: first.state,
    });
    // The browser still holds bob's session (and his grant for this client); carol signs in over it.
    const second = await startSignIn(browser, web, { prompt: 'login consent' });
    const res = await browser.submit(second.loginPage, 'form[action$="/password"]', { email: other, password: PASSWORD });
    // oidc-provider ends bob's session first, with a self-submitting form (this browser runs no script).
    const endBob = await browser.follow(new URL(res.headers.get('location')!, second.loginPage.url).href, (u) => u.startsWith(RP));
    if ('redirectedTo' in endBob) throw new Error('expected the end of the previous session first');
    const ended = await browser.submit(endBob, 'form[action$="/session/end/confirm"]', {});
    const back = await browser.follow(new URL(ended.headers.get('location')!, endBob.url).href, (u) => u.startsWith(RP));
    if (!('redirectedTo' in back)) throw new Error(`sign-in did not reach the client: ${back.status} ${back.html.slice(0, 300)}`);
    const callback = back.redirectedTo;
    const tokens = await client.authorizationCodeGrant(web.config, new URL(callback), { pkceCodeVerifier: second.verifier, expectedState: second.state });
    expect(tokens.claims()!.email).toBe(other);
    expect(tokens.claims()!.sub).not.toBe(firstTokens.claims()!.sub);
    // Carol's token stands on a grant of hers with what she was asked for; bob's went with his session.
    const hers = await client.tokenIntrospection(web.config, tokens.access_token);
    expect(hers).toMatchObject({ active: true, sub: tokens.claims()!.sub });
    expect(String(hers.scope).split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
    expect((await client.tokenIntrospection(web.config, firstTokens.access_token)).active).toBe(false);
  });

  it('first-party clients skip it; third-party clients ask, and a denial reaches the client', async () => {
    const thirdParty = await registerClient(running.app, running.issuer, { thirdParty: true });
    const browser = new Browser();
    const started = await startSignIn(browser, thirdParty);
    const res = await browser.submit(started.loginPage, 'form[action$="/password"]', { email: EMAIL, password: PASSWORD });
    const consentPage = await browser.follow(new URL(res.headers.get('location')!, started.loginPage.url).href, (u) => u.startsWith(RP));
    if ('redirectedTo' in consentPage) throw new Error('third-party client skipped consent');
    expect(consentPage.doc.querySelector('h1')!.text).toContain('Allow access?');
    expect(consentPage.html).toContain('See your email address');

    const deny = await browser.submit(consentPage, 'form[action$="/consent"]', { decision: 'deny' });
    expect(deny.status).toBe(303);
    const back = await browser.follow(new URL(deny.headers.get('location')!, consentPage.url).href, (u) => u.startsWith(RP));
    expect('redirectedTo' in back && new URL(back.redirectedTo).searchParams.get('error')).toBe('access_denied');

    // Allowing, in a new flow, issues a code.
    const second = await startSignIn(browser, thirdParty);
    const consentAgain = second.loginPage; // the browser session is still signed in: consent comes first
    expect(consentAgain.doc.querySelector('form[action$="/consent"]')).toBeTruthy();
    const allow = await browser.submit(consentAgain, 'form[action$="/consent"]', { decision: 'allow' });
    const withCode = await browser.follow(new URL(allow.headers.get('location')!, consentAgain.url).href, (u) => u.startsWith(RP));
    expect('redirectedTo' in withCode && new URL(withCode.redirectedTo).searchParams.has('code')).toBe(true);
  });
});

describe('forwarded headers', () => {
  it('are ignored from peers that are not trusted proxies', async () => {
    const other = await startApp({ TRUSTED_PROXIES: '10.0.0.1' });
    try {
      const client2 = await registerClient(other.app, other.issuer);
      const url = await authorizationUrl(client2);
      const res = await new Browser().request(url, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.0.0.1' } });
      const cookies = res.headers.getSetCookie();
      expect(cookies.length).toBeGreaterThan(0);
      for (const c of cookies) expect(c.toLowerCase()).not.toContain('secure');
    } finally {
      await other.stop();
    }
  });

  it('are believed from a trusted proxy', async () => {
    const behindProxy = await startApp({ TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const client3 = await registerClient(behindProxy.app, behindProxy.issuer);
      const url = await authorizationUrl(client3);
      const res = await new Browser().request(url, { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.headers.getSetCookie().some((c) => c.toLowerCase().includes('secure'))).toBe(true);
    } finally {
      await behindProxy.stop();
    }
  });
});
