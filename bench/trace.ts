/**
 * `npm run bench:trace`: what one operation of each bench workload costs Gatehouse in store work. Starts
 * Gatehouse as the bench does (embedded, or PostgreSQL + Redis with DATABASE_URL / REDIS_URL) with
 * knex's and ioredis's debug output on, performs one of each operation in turn, and prints the SQL
 * statements and Redis commands each one sent, in order, and their count per HTTP request.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { openServices } from '../src/services/index.js';
import { PROJECT_ROOT } from '../src/paths.js';
import { CALLBACK, PASSWORD, benchEnvironment, freePort, removeBenchData, signIn } from './common.js';

const API = 'https://api.bench.test/';

/** Counts of store work in trace lines; a MULTI … EXEC transaction is sent as one round trip. */
function tally(lines: string[]): string {
  let sql = 0;
  let redis = 0;
  let trips = 0;
  let inMulti = false;
  for (const line of lines) {
    if (line.startsWith('SQL')) sql++;
    else {
      redis++;
      if (line.startsWith('Redis MULTI')) inMulti = true;
      else if (line.startsWith('Redis EXEC')) {
        inMulti = false;
        trips++;
      } else if (!inMulti) trips++;
    }
  }
  return `${sql} SQL, ${redis} Redis commands in ${trips} round trips`;
}

/** A debug line of knex (`knex:query <sql>`) or ioredis (`ioredis:redis write command[…]: 0 -> get([…])`), shortened. */
function storeWork(line: string): string | null {
  const sql = /knex:query (.*?)(?: undefined)?(?: \+\d+m?s)?$/.exec(line);
  if (sql) return `SQL   ${sql[1]!.replace(/\s+/g, ' ').slice(0, 160)}`;
  const redis = /write command\[[^\]]*\]: \d+ -> (\w+)\((.*)\)/.exec(line);
  if (redis) return `Redis ${redis[1]!.toUpperCase()} ${redis[2]!.replace(/"[A-Za-z0-9_-]{30,}"/g, '"…"').slice(0, 140)}`;
  return null;
}

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const tag = `trace${Date.now().toString(36)}`;
  const { env, sqliteFile } = benchEnvironment(tag, port, {
    DEBUG: 'knex:query,ioredis:redis',
    DEBUG_COLORS: '0',
    DEBUG_HIDE_DATE: '1',
    RESOURCE_SERVERS: JSON.stringify({ [API]: { scopes: ['read'] } }),
  });
  const config = loadConfig(env);
  const services = await openServices(config);
  await services.accounts.create({ email: 'trace@example.com', password: PASSWORD });
  const { client, clientSecret } = await services.clients.create({ clientName: 'Trace', sessionType: 'web', redirectUris: [CALLBACK] });
  await services.close();

  const lines: string[] = [];
  const server = spawn(process.execPath, [join(PROJECT_ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let partial = '';
  server.stderr!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const all = text.split('\n');
    partial = all.pop()!;
    for (const line of all) {
      const work = storeWork(line);
      if (work) lines.push(work);
    }
  });
  const settle = () => new Promise((r) => setTimeout(r, 300));
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok) break;
      if (i > 150) throw new Error('Gatehouse did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await signIn(base, client.clientId, clientSecret!, 'trace@example.com'); // warm: keys, first statements
    await settle();
    const basic = `Basic ${Buffer.from(`${client.clientId}:${clientSecret}`).toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
    let tokens = { refresh_token: '', access_token: '' };
    const operations: Array<[string, number, () => Promise<unknown>]> = [
      ['full sign-in (authorize, password, code exchange)', 0, async () => (tokens = await signIn(base, client.clientId, clientSecret!, 'trace@example.com'))],
      ['refresh_token grant (rotating)', 1, () => fetch(`${base}/token`, { method: 'POST', headers: form, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }) }).then((r) => r.text())],
      ['client_credentials grant', 1, () => fetch(`${base}/token`, { method: 'POST', headers: form, body: new URLSearchParams({ grant_type: 'client_credentials', resource: API, scope: 'read' }) }).then((r) => r.text())],
      ['GET /jwks', 1, () => fetch(`${base}/jwks`).then((r) => r.text())],
      ['discovery', 1, () => fetch(`${base}/.well-known/openid-configuration`).then((r) => r.text())],
      ['userinfo', 1, () => fetch(`${base}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.text())],
      ['introspection', 1, () => fetch(`${base}/token/introspection`, { method: 'POST', headers: form, body: new URLSearchParams({ token: tokens.access_token }) }).then((r) => r.text())],
    ];
    // The sign-in request by request.
    lines.length = 0;
    let perRequest = '';
    await signIn(base, client.clientId, clientSecret!, 'trace@example.com', { afterEach: async (request) => {
      await settle();
      perRequest += `\n### ${request}: ${tally(lines)}\n${lines.map((l) => `  ${l}\n`).join('')}`;
      lines.length = 0;
    } });
    console.log(`## full sign-in, request by request${perRequest}`);
    for (const [name, requests, op] of operations) {
      lines.length = 0;
      await op();
      await settle();
      console.log(`\n## ${name}: ${tally(lines)}${requests ? '' : ' (all its requests)'}`);
      for (const l of lines) console.log(`  ${l}`);
    }
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await removeBenchData(config, sqliteFile);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
