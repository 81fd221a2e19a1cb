import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openServices, type Services } from '../src/services/index.js';
import { testBackend } from './helpers/backend.js';

/** Runs the real `gatehouse` bin (built by `npm test`'s pretest) against this file's database. */
const BIN = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const backend = testBackend();

async function gatehouse(...args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...backend.env },
      timeout: 20_000, // a CLI that never exits fails the test instead of hanging the run
    });
    return { code: 0, stdout, stderr, json: JSON.parse(stdout) as Record<string, unknown> };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, json: undefined };
  }
}

let services: Services;
beforeAll(async () => {
  expect((await gatehouse('migrate')).code).toBe(0);
  services = await openServices(backend.config(), { migrate: false });
});
afterAll(async () => (await services.close(), await backend.cleanup()));

describe('npx gatehouse', () => {
  it('migrate is idempotent', async () => {
    const again = await gatehouse('migrate');
    expect(again).toMatchObject({ code: 0, json: { applied: [] } });
  });

  it('user create prints the id and normalized email, and the user can sign in', async () => {
    const r = await gatehouse('user', 'create', '--email', 'Henry@Example.com', '--password', 'Pass-word-1', '--name', 'Henry');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), email: 'henry@example.com' });
    expect(await services.accounts.authenticate('henry@example.com', 'Pass-word-1')).toMatchObject({ ok: true });
  });

  it('user create refuses a duplicate and bad input on stderr with a non-zero exit', async () => {
    await gatehouse('user', 'create', '--email', 'ivy@example.com', '--password', 'Pass-word-1');
    const dup = await gatehouse('user', 'create', '--email', 'IVY@example.com', '--password', 'Pass-word-1');
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toContain('already exists');
    const missing = await gatehouse('user', 'create', '--email', 'jack@example.com');
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('--password is required');
    const bad = await gatehouse('user', 'create', '--email', 'not-an-email', '--password', 'x');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('email: must be a valid email address');
  });

  it('user create --platform-admin, grant-platform-admin and revoke-platform-admin set the flag, audited with the CLI as actor', async () => {
    const made = await gatehouse('user', 'create', '--email', 'Root@Example.com', '--password', 'Pass-word-1', '--platform-admin');
    expect(made).toMatchObject({ code: 0, json: { email: 'root@example.com', platformAdmin: true } });
    expect((await services.accounts.findById(made.json!.id as string))?.platformAdmin).toBe(true);

    await gatehouse('user', 'create', '--email', 'kate@example.com', '--password', 'Pass-word-1');
    expect(Boolean((await services.db('accounts').where({ email: 'kate@example.com' }).first()).platform_admin)).toBe(false);
    const granted = await gatehouse('user', 'grant-platform-admin', '--email', 'KATE@example.com');
    expect(granted).toMatchObject({ code: 0, json: { email: 'kate@example.com', platformAdmin: true, changed: true } });
    // Twice: nothing changes, nothing more is audited.
    expect(await gatehouse('user', 'grant-platform-admin', '--email', 'kate@example.com')).toMatchObject({ code: 0, json: { platformAdmin: true, changed: false } });
    const revoked = await gatehouse('user', 'revoke-platform-admin', '--email', 'kate@example.com');
    expect(revoked).toMatchObject({ code: 0, json: { platformAdmin: false, changed: true } });
    expect(Boolean((await services.db('accounts').where({ email: 'kate@example.com' }).first()).platform_admin)).toBe(false);

    const events = await services.db('audit_events').where({ target_id: granted.json!.id as string }).orderBy('id').select('type', 'actor_type', 'actor_id');
    expect(events).toEqual([
      { type: 'user.platform-admin-granted', actor_type: 'system', actor_id: 'cli' },
      { type: 'user.platform-admin-revoked', actor_type: 'system', actor_id: 'cli' },
    ]);
  });

  it('grant-platform-admin names an unknown user or a missing --email', async () => {
    const unknown = await gatehouse('user', 'grant-platform-admin', '--email', 'nobody@example.com');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('user not found');
    const missing = await gatehouse('user', 'revoke-platform-admin');
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain('--email is required');
  });

  it('client create prints a secret for web clients only', async () => {
    const web = await gatehouse('client', 'create', '--name', 'Portal', '--session-type', 'web', '--redirect-uri', 'https://portal.example.com/cb', '--redirect-uri', 'https://portal.example.com/cb2');
    expect(web.code).toBe(0);
    expect(web.json).toMatchObject({
      client_id: expect.any(String),
      client_secret: expect.any(String),
      session_type: 'web',
      first_party: true,
      redirect_uris: ['https://portal.example.com/cb', 'https://portal.example.com/cb2'],
    });
    const desktop = await gatehouse('client', 'create', '--name', 'Desk', '--session-type', 'desktop', '--redirect-uri', 'http://127.0.0.1/cb', '--third-party');
    expect(desktop.json).toMatchObject({ session_type: 'desktop', first_party: false, token_endpoint_auth_method: 'none' });
    expect(desktop.json).not.toHaveProperty('client_secret');
  });

  it('client create explains a bad session type or redirect URI', async () => {
    const r = await gatehouse('client', 'create', '--name', 'TV', '--session-type', 'tv', '--redirect-uri', 'http://evil.example/cb');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sessionType: must be web, mobile or desktop');
  });

  it('keys rotate prints the new arrangement', async () => {
    const r = await gatehouse('keys', 'rotate');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ current: expect.any(String), next: expect.any(String), retired: expect.any(Array), removed: [] });
  });

  it('an unknown command prints usage and exits 64', async () => {
    const r = await gatehouse('frobnicate');
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('usage: gatehouse');
  });

  it('a bad setting names the variable', async () => {
    const r = await promisify(execFile)(process.execPath, [BIN, 'migrate'], { env: { ...process.env, ...backend.env, DATABASE_URL: 'mysql://x' }, timeout: 20_000 }).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DATABASE_URL');
  });
});

describe('npx gatehouse outbox', () => {
  it('shows the mail Gatehouse sent while no SMTP server is configured', async () => {
    const created = await gatehouse('user', 'create', '--email', 'mia@example.com', '--password', 'Pass-word-1');
    expect(created.code).toBe(0);
    const account = await services.accounts.get(created.json!.id as string);
    await services.passwordResets.adminReset(account, false, { type: 'system', id: 'test' }, { ip: null, userAgent: null });
    const r = await gatehouse('outbox', '--to', 'mia@example.com', '--limit', '5');
    expect(r.code).toBe(0);
    const messages = r.json as unknown as Array<{ to: string; subject: string; text: string }>;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ to: 'mia@example.com', subject: 'Reset your Gatehouse password' });
    expect(messages[0]!.text).toMatch(/\/password\/reset\?token=[\w-]{43}/);
    expect((await gatehouse('outbox', '--limit', 'lots')).code).toBe(64);
  });

  it('user create applies the password rules of the policy in force', async () => {
    const r = await gatehouse('user', 'create', '--email', 'nia@example.com', '--password', 'weak');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('password: Use at least 8 characters.');
    expect(r.stderr).toContain('password: Include an uppercase letter (A–Z).');
  });
});
