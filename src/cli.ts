import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from './config/index.js';
import { ConflictError, NotFoundError, ValidationError } from './services/errors.js';
import { openServices, type Services } from './services/index.js';
import { migrate, openDb } from './stores/db.js';

const USAGE = `usage: gatehouse <command>

  migrate                                  apply database migrations
  keys rotate                              publish a new signing key, start signing with the previous "next" key
  user create --email E --password P [--name N] [--platform-admin]
  user grant-platform-admin --email E      let the user do in the admin API all the bootstrap client can
  user revoke-platform-admin --email E     take that back (takes effect on the user's next request)
  user invite --email E [--name N]         create a user without a password and email an invitation link
  outbox [--to E] [--limit N]              show the development outbox (mail, when SMTP_URL is unset)
  client create --name N --session-type web|mobile|desktop --redirect-uri U [--redirect-uri U2 …]
                [--post-logout-redirect-uri U …] [--backchannel-logout-uri U] [--third-party]

Every command uses DATABASE_URL (default sqlite:data/gatehouse.db) and prints JSON on stdout.`;

class UsageError extends Error {}

function options(args: string[], spec: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options: spec, strict: true, allowPositionals: false }).values as Record<string, unknown>;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/**
 * Grants or revokes platform administration, audited with the CLI as actor. Only the CLI does this: whoever
 * runs it already holds the database, so it adds no power; the admin API never sets the flag, so a stolen
 * admin token cannot make more platform admins.
 */
async function setPlatformAdmin(services: Services, email: string, value: boolean) {
  const { account, changed } = await services.accounts.setPlatformAdmin(email, value);
  if (changed) {
    await services.audit.record(value ? 'user.platform-admin-granted' : 'user.platform-admin-revoked', {
      actor: { type: 'system', id: 'cli' },
      target: { type: 'user', id: account.id },
      request: { ip: null, userAgent: null },
      data: { before: { platformAdmin: !value }, after: { platformAdmin: value } },
    });
  }
  return { id: account.id, email: account.email, platformAdmin: account.platformAdmin, changed };
}

async function run(argv: string[]): Promise<unknown> {
  const [command, sub, ...rest] = argv;
  const config = loadConfig();
  if (command === 'migrate' && sub === undefined) {
    const db = openDb(config.database);
    try {
      return { applied: await migrate(db, config.database) };
    } finally {
      await db.destroy();
    }
  }
  if (command === 'outbox') {
    const v = options(argv.slice(1), { to: { type: 'string' }, limit: { type: 'string' } });
    const limit = Number(v.limit ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
    const services = await openServices(config);
    try {
      const messages = await services.outbox.latest(limit, v.to as string | undefined);
      return messages.map((m) => ({ ...m, createdAt: new Date(m.createdAt * 1000).toISOString() }));
    } finally {
      await services.close();
    }
  }
  const key = `${command ?? ''} ${sub ?? ''}`;
  if (!['keys rotate', 'user create', 'user invite', 'user grant-platform-admin', 'user revoke-platform-admin', 'client create'].includes(key)) throw new UsageError(`unknown command: ${argv.join(' ') || '(none)'}`);
  const services = await openServices(config);
  try {
    switch (key) {
      case 'keys rotate': {
        options(rest, {});
        await services.keys.ensure();
        return await services.keys.rotate();
      }
      case 'user create': {
        const v = options(rest, { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, 'platform-admin': { type: 'boolean' } });
        const account = await services.accounts.create({
          email: required(v, 'email'),
          password: required(v, 'password'),
          name: v.name as string | undefined,
        });
        if (!v['platform-admin']) return { id: account.id, email: account.email };
        return { id: account.id, email: account.email, platformAdmin: (await setPlatformAdmin(services, account.email, true)).platformAdmin };
      }
      case 'user grant-platform-admin':
      case 'user revoke-platform-admin': {
        const v = options(rest, { email: { type: 'string' } });
        return await setPlatformAdmin(services, required(v, 'email'), sub === 'grant-platform-admin');
      }
      case 'user invite': {
        const v = options(rest, { email: { type: 'string' }, name: { type: 'string' } });
        const account = await services.invitations.createUser(
          { email: required(v, 'email'), name: v.name as string | undefined, invite: true },
          { type: 'system', id: 'cli' },
          { ip: null, userAgent: null },
        );
        return { id: account.id, email: account.email, invited: true, linkValidHours: config.passwords.invitationTtlHours };
      }
      default: {
        const v = options(rest, {
          name: { type: 'string' },
          'session-type': { type: 'string' },
          'redirect-uri': { type: 'string', multiple: true },
          'post-logout-redirect-uri': { type: 'string', multiple: true },
          'backchannel-logout-uri': { type: 'string' },
          'third-party': { type: 'boolean' },
        });
        const { client, clientSecret } = await services.clients.create({
          clientName: required(v, 'name'),
          sessionType: required(v, 'session-type') as 'web',
          redirectUris: (v['redirect-uri'] as string[] | undefined) ?? [],
          postLogoutRedirectUris: (v['post-logout-redirect-uri'] as string[] | undefined) ?? [],
          backchannelLogoutUri: v['backchannel-logout-uri'] as string | undefined,
          thirdParty: Boolean(v['third-party']),
        });
        return {
          client_id: client.clientId,
          ...(clientSecret ? { client_secret: clientSecret } : {}),
          client_name: client.clientName,
          session_type: client.sessionType,
          first_party: client.firstParty,
          redirect_uris: client.metadata.redirect_uris,
          token_endpoint_auth_method: client.metadata.token_endpoint_auth_method,
        };
      }
    }
  } finally {
    await services.close();
  }
}

run(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`gatehouse: ${err.message}\n\n${USAGE}\n`);
    else if (err instanceof ConfigError || err instanceof ValidationError || err instanceof ConflictError || err instanceof NotFoundError) {
      process.stderr.write(`gatehouse: ${err.message}\n`);
    } else process.stderr.write(`gatehouse: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 64 : 1;
  },
);
