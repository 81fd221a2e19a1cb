import { jest } from '@jest/globals';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { Browser } from '../helpers/browser.js';
import { Scrape } from '../helpers/metrics.js';
import { RP_CALLBACK } from '../helpers/oidc.js';
import { freePort, startGatehouseProcess, type GatehouseProcess } from '../helpers/process.js';
import * as client from 'openid-client';

/**
 * Graceful shutdown (issue 9 item 6), on `node dist/src/main.js` as `npm start` runs it, on the
 * backend the environment names. On SIGTERM Gatehouse stops accepting connections at once, lets the
 * requests it is serving finish with their normal answers, closes idle keep-alive connections, and
 * exits 0; a request that does not finish within SHUTDOWN_GRACE_SECONDS is cut and the process still
 * exits, within the bound.
 */
jest.setTimeout(60_000);

const PASSWORD = 'Graceful-Exit-Pass-61';

/** Whether a new TCP connection to the port is accepted right now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves with the exit code (or signal) once the process has exited; rejects after `ms`. */
async function exitWithin(gh: GatehouseProcess, ms: number): Promise<number | string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([gh.exited, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`still running ${ms} ms after SIGTERM`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
  return gh.child.exitCode ?? gh.child.signalCode;
}

async function webClient(gh: GatehouseProcess) {
  const res = await gh.api('POST', '/clients', { client_name: 'Shutdown app', session_type: 'web', redirect_uris: [RP_CALLBACK] });
  expect(res.status).toBe(201);
  return { clientId: res.body.client_id as string, secret: res.body.client_secret as string };
}

/** A browser on the sign-in page of a fresh authorization request. */
async function onPasswordPage(issuer: string, clientId: string) {
  const browser = new Browser();
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: RP_CALLBACK,
    response_type: 'code',
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  }).toString();
  const page = await browser.page(url.href);
  expect(page.status).toBe(200);
  return { browser, page };
}

let gh: GatehouseProcess | undefined;
afterEach(async () => {
  if (gh && gh.child.exitCode === null && gh.child.signalCode === null) gh.child.kill('SIGKILL');
  await gh?.exited;
  await gh?.backend.cleanup();
  gh = undefined;
});

it('SIGTERM with sign-ins in flight: they finish with their normal answers, new connections are refused at once, the process exits 0', async () => {
  const metricsPort = await freePort();
  // argon2 slow enough that several password checks are still running when the signal arrives.
  gh = await startGatehouseProcess({
    METRICS_PORT: String(metricsPort),
    SHUTDOWN_GRACE_SECONDS: '10',
    ARGON2_MEMORY_KIB: '65536',
    ARGON2_TIME_COST: '3',
  });
  const port = Number(new URL(gh.issuer).port);
  const { clientId } = await webClient(gh);
  const N = 4;
  const emails = Array.from({ length: N }, (_, i) => `leaving${i}@shutdown.example`);
  for (const email of emails) expect((await gh.api('POST', '/users', { email, password: PASSWORD })).status).toBe(201);
  const pages = await Promise.all(emails.map(() => onPasswordPage(gh!.issuer, clientId)));

  // N password submissions at once; SIGTERM once the server is checking all of them.
  const answered: Array<{ status: number; location: string | null; at: number }> = [];
  const submissions = pages.map(({ browser, page }, i) =>
    browser.submit(page, 'form[action$="/password"]', { email: emails[i]!, password: PASSWORD }).then((res) => {
      answered.push({ status: res.status, location: res.headers.get('location'), at: Date.now() });
    }),
  );
  const deadline = Date.now() + 10_000;
  while ((await Scrape.of(`http://127.0.0.1:${metricsPort}`)).value('gatehouse_argon2_in_flight') < N) {
    if (Date.now() > deadline) throw new Error('the password checks never ran together');
    await new Promise((r) => setTimeout(r, 5));
  }
  const signalled = Date.now();
  gh.child.kill('SIGTERM');

  // New connections are refused while the sign-ins are still being answered.
  let refusedAt: number | undefined;
  while (refusedAt === undefined && Date.now() < signalled + 5000) {
    if (!(await accepts(port))) refusedAt = Date.now();
  }
  await Promise.all(submissions);
  const code = await exitWithin(gh, 15_000);
  const lastAnswer = Math.max(...answered.map((a) => a.at));
  process.stdout.write(
    `shutdown: new connections refused ${refusedAt! - signalled} ms after SIGTERM; ${N} sign-ins in flight answered by ${lastAnswer - signalled} ms; exit ${code}\n`,
  );

  expect(refusedAt).toBeDefined();
  expect(refusedAt!).toBeLessThan(lastAnswer);
  // Every one of them got its normal answer: on to the next step of the sign-in.
  expect(answered.map((a) => a.status)).toEqual(emails.map(() => 303));
  for (const a of answered) expect(a.location).toMatch(/\/auth\//);
  expect(code).toBe(0);
  expect(gh.logs.map((l) => l.msg)).toContain('stopped');
  expect(gh.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
});

it('SIGTERM exits within the grace even with a keep-alive connection held open and a request that never finishes', async () => {
  gh = await startGatehouseProcess({ SHUTDOWN_GRACE_SECONDS: '2' });
  const { host, port } = new URL(gh.issuer);

  // A client that keeps its connection open after an answer (keep-alive) …
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: host.split(':')[0], port, path: '/healthz', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
  expect(status).toBe(200);
  // … and one that sends headers announcing a body it never sends: in flight until it is cut.
  const stuck = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
  stuck.write(`POST /token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=`);
  const stuckClosed = new Promise<void>((resolve) => stuck.once('close', () => resolve()));
  stuck.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 200));

  const signalled = Date.now();
  gh.child.kill('SIGTERM');
  const code = await exitWithin(gh, 2000 + 5000);
  const took = Date.now() - signalled;
  await stuckClosed;
  agent.destroy();
  process.stdout.write(`shutdown with a held keep-alive connection and a stuck request: exit ${code} after ${took} ms (grace 2 s)\n`);
  expect(code).toBe(0);
  // The stuck request held the shutdown until the grace was over, and not much longer.
  expect(took).toBeGreaterThanOrEqual(2000);
  expect(gh.logs.some((l) => l.msg === 'shutdown grace over: closing the connections still open')).toBe(true);
  expect(gh.logs.map((l) => l.msg)).toContain('stopped');
});

it('SIGTERM with only an idle keep-alive connection: exits at once, without waiting for the grace', async () => {
  gh = await startGatehouseProcess({ SHUTDOWN_GRACE_SECONDS: '30' });
  const { port } = new URL(gh.issuer);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/.well-known/openid-configuration', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
  const signalled = Date.now();
  gh.child.kill('SIGTERM');
  // Far less than the 30 s grace: the idle connection does not hold the shutdown.
  const code = await exitWithin(gh, 10_000);
  process.stdout.write(`shutdown with an idle keep-alive connection: exit ${code} after ${Date.now() - signalled} ms (grace 30 s)\n`);
  agent.destroy();
  expect(code).toBe(0);
  expect(gh.logs.some((l) => l.msg === 'shutdown grace over: closing the connections still open')).toBe(false);
});
