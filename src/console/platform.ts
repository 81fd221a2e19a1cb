import type Router from '@koa/router';
import type { Context } from 'koa';
import { m, quoted, type Text } from '../i18n/message.js';
import { ConflictError, ValidationError } from '../services/errors.js';
import type { ConsolePageDeps, ConsoleUser } from './index.js';
import { field, guard as guardOf, queryField } from './shared.js';

const BASE = '/console/platform';
const PAGE_SIZE = 50;

interface OrganizationView {
  id: string;
  name: string;
  createdAt: string;
}
interface ClientView {
  client_id: string;
  client_name: string;
  session_type: 'web' | 'mobile' | 'desktop';
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  backchannel_logout_uri: string | null;
  first_party: boolean;
  token_endpoint_auth_method: string;
  created_at: string;
  built_in: boolean;
}
interface UserView {
  id: string;
  email: string;
  organizationId: string | null;
}
type Page<T> = { items: T[]; nextCursor: string | null };
/** Problems by form field, each shown next to its field (and linked to it). */
type FieldErrors = Record<string, Text>;

const isInvalid = (err: unknown) => err instanceof ValidationError || (err as { name?: string }).name === 'ZodError';

/** The Platform pages: organizations, OIDC clients and signing keys, for platform admins only. */
export function platformPages(router: Router, deps: ConsolePageDeps): void {
  /** A platform admin (with a valid CSRF token for a form); undefined once answered. */
  const guard = async (ctx: Context, form: boolean) => (await guardOf(deps, ctx, form, true))?.user;
  /** A page of a list route, from the `cursor` of the request's query. */
  const pageQuery = (ctx: Context, extra: Record<string, unknown> = {}) => ({ limit: PAGE_SIZE, ...(queryField(ctx, 'cursor') ? { cursor: queryField(ctx, 'cursor') } : {}), ...extra });

  /** Answers an error: a conflict as the page's problem, anything else as a refusal. */
  function answer(ctx: Context, err: unknown, show: (problem: Text, status: number) => Promise<void>) {
    if (err instanceof ConflictError) return show(err.text ?? m('That cannot be done: {{reason}}.', { reason: err.message }), 409);
    return deps.refuse(ctx, err);
  }

  // ---- Organizations ----

  interface OrganizationsExtra {
    notice?: Text;
    created?: OrganizationView;
    problem?: Text;
    errors?: FieldErrors;
    nameInput?: string;
    ownerInput?: string;
  }
  async function showOrganizations(ctx: Context, user: ConsoleUser, extra: OrganizationsExtra = {}, status = 200) {
    const q = queryField(ctx, 'q');
    const list = (await deps.callRoute(ctx, user, 'get', '/organizations', {}, undefined, pageQuery(ctx, q ? { q } : {}))) as Page<OrganizationView>;
    await deps.page(
      ctx,
      user,
      'console/platform-organizations',
      { current: 'organizations', base: BASE, q, list, notice: null, created: null, problem: null, errors: {}, nameInput: '', ownerInput: '', ...extra },
      status,
    );
  }

  router.get('/platform/organizations', async (ctx) => {
    const user = await guard(ctx, false);
    if (user) await showOrganizations(ctx, user).catch((err) => deps.refuse(ctx, err));
  });

  /** The user who is to own the new organization, found by their exact address; or the problem with that field. */
  async function ownerOf(ctx: Context, user: ConsoleUser, email: string): Promise<{ owner: UserView } | { problem: Text }> {
    const notAnAddress = { problem: m('Enter the email address of an existing user.') };
    if (!email.includes('@')) return notAnAddress;
    let found: Page<UserView>;
    try {
      found = (await deps.callRoute(ctx, user, 'get', '/users', {}, undefined, { email, limit: 1 })) as Page<UserView>;
    } catch (err) {
      if (isInvalid(err)) return notAnAddress;
      throw err;
    }
    const owner = found.items[0];
    if (!owner) return { problem: m('No user has the address {{email}}. Create the user first, or leave the field empty.', { email }) };
    if (owner.organizationId) return { problem: m('{{email}} already belongs to an organization.', { email }) };
    return { owner };
  }

  router.post('/platform/organizations', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const name = field(ctx, 'name');
    const email = field(ctx, 'owner');
    const again = (errors: FieldErrors, status: number) => showOrganizations(ctx, user, { errors, nameInput: name, ownerInput: email }, status);
    try {
      if (!name) return await again({ name: m('Enter a name for the organization.') }, 400);
      // The owner is looked up first, so a mistyped address creates nothing.
      const found = email ? await ownerOf(ctx, user, email) : undefined;
      if (found && 'problem' in found) return await again({ owner: found.problem }, 400);
      const owner = found?.owner;
      const org = (await deps.callRoute(ctx, user, 'post', '/organizations', {}, { name })) as OrganizationView;
      if (owner) {
        try {
          await deps.callRoute(ctx, user, 'post', '/organizations/{orgId}/members', { orgId: org.id }, { userId: owner.id, role: 'owner' });
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          return await showOrganizations(ctx, user, { created: org, problem: m('{{name}} is created, but {{email}} could not be made its owner: {{reason}}', { name, email, reason: err.text ? quoted(err.text) : `${err.message}.` }) }, 409);
        }
      }
      const notice = owner ? m('{{name}} is created, owned by {{email}}.', { name, email: owner.email }) : m('{{name}} is created.', { name });
      await showOrganizations(ctx, user, { created: org, notice }, 201);
    } catch (err) {
      if (isInvalid(err)) return again({ name: m('Enter a name of at most 200 characters.') }, 400).catch((e) => deps.refuse(ctx, e));
      await deps.refuse(ctx, err);
    }
  });

  // ---- Clients ----

  interface ClientsExtra {
    notice?: Text;
    problem?: Text;
    errors?: FieldErrors;
    input?: { name: string; type: string; uris: string };
  }
  async function showClients(ctx: Context, user: ConsoleUser, extra: ClientsExtra = {}, status = 200) {
    const list = (await deps.callRoute(ctx, user, 'get', '/clients', {}, undefined, pageQuery(ctx))) as Page<ClientView>;
    await deps.page(
      ctx,
      user,
      'console/platform-clients',
      { current: 'clients', base: BASE, list, notice: null, problem: null, errors: {}, input: { name: '', type: 'web', uris: '' }, ...extra },
      status,
    );
  }

  /** The secret-once page: never cached, never shown again. */
  async function showSecret(ctx: Context, user: ConsoleUser, data: { client: { client_id: string; client_name: string }; secret: string | null; rotated: boolean }, status: number) {
    ctx.set('Cache-Control', 'no-store');
    await deps.page(ctx, user, 'console/platform-client-secret', { current: 'clients', base: BASE, ...data }, status);
  }

  /** Which field of a client form (registration or change) a problem of the client service or of the route's body is about. */
  const clientField = (path: string) =>
    /^client_?name/i.test(path) ? 'name'
      : /^session_?type/i.test(path) ? 'type'
        : /^post_?logout/i.test(path) ? 'logoutUris'
          : /^backchannel/i.test(path) ? 'backchannel'
            : 'uris';
  /** The problems of a refused client form, from the client service (ValidationError) or the route's body schema (zod). */
  const issuesOf = (err: unknown): Array<{ path: string; message: string }> =>
    err instanceof ValidationError
      ? err.errors.map((e) => ({ path: e.field, message: e.message }))
      : (err as { issues: Array<{ path: PropertyKey[]; message: string }> }).issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  /** The non-empty lines of a textarea (one URI per line). */
  const lines = (text: string) => text.split(/\r?\n/).map((u) => u.trim()).filter(Boolean);

  router.get('/platform/clients', async (ctx) => {
    const user = await guard(ctx, false);
    if (user) await showClients(ctx, user).catch((err) => deps.refuse(ctx, err));
  });

  router.post('/platform/clients', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const input = { name: field(ctx, 'client_name'), type: field(ctx, 'session_type'), uris: field(ctx, 'redirect_uris') };
    const uris = lines(input.uris);
    try {
      const created = (await deps.callRoute(ctx, user, 'post', '/clients', {}, { client_name: input.name, session_type: input.type, redirect_uris: uris })) as ClientView & { client_secret?: string };
      await showSecret(ctx, user, { client: created, secret: created.client_secret ?? null, rotated: false }, 201);
    } catch (err) {
      if (!isInvalid(err)) return deps.refuse(ctx, err);
      const errors: FieldErrors = {};
      for (const issue of issuesOf(err)) {
        const key = clientField(issue.path);
        errors[key] ??=
          key === 'name'
            ? m('Enter a name for the client.')
            : key === 'type'
              ? m('Choose the kind of application.')
              : uris.length
                ? m('A redirect URI is not acceptable: {{detail}}', { detail: issue.message })
                : m('Enter at least one redirect URI.');
      }
      await showClients(ctx, user, { errors, input }, 400).catch((e) => deps.refuse(ctx, e));
    }
  });

  /** The confirmation page of a client action (rotate or delete). */
  function confirmPage(action: 'rotate' | 'delete') {
    return async (ctx: Context) => {
      const user = await guard(ctx, false);
      if (!user) return;
      try {
        const client = (await deps.callRoute(ctx, user, 'get', '/clients/{clientId}', { clientId: ctx.params.clientId! })) as ClientView;
        if (client.built_in) return await showClients(ctx, user, { problem: m('{{name}} is built into Gatehouse: it cannot be changed here.', { name: client.client_name }) }, 409);
        if (action === 'rotate' && client.token_endpoint_auth_method === 'none') {
          return await showClients(ctx, user, { problem: m('{{name}} is a public client: it has no secret.', { name: client.client_name }) }, 409);
        }
        await deps.page(ctx, user, 'console/platform-client-confirm', { current: 'clients', base: BASE, client, action });
      } catch (err) {
        await deps.refuse(ctx, err);
      }
    };
  }
  router.get('/platform/clients/:clientId/rotate', confirmPage('rotate'));
  router.get('/platform/clients/:clientId/delete', confirmPage('delete'));

  router.post('/platform/clients/:clientId/rotate', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const clientId = ctx.params.clientId!;
    try {
      const client = (await deps.callRoute(ctx, user, 'get', '/clients/{clientId}', { clientId })) as ClientView;
      const rotated = (await deps.callRoute(ctx, user, 'post', '/clients/{clientId}/secret', { clientId })) as { client_secret: string };
      await showSecret(ctx, user, { client, secret: rotated.client_secret, rotated: true }, 200);
    } catch (err) {
      await answer(ctx, err, (problem, status) => showClients(ctx, user, { problem }, status));
    }
  });

  router.post('/platform/clients/:clientId/delete', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const clientId = ctx.params.clientId!;
    try {
      const client = (await deps.callRoute(ctx, user, 'get', '/clients/{clientId}', { clientId })) as ClientView;
      await deps.callRoute(ctx, user, 'delete', '/clients/{clientId}', { clientId });
      await showClients(ctx, user, { notice: m('{{name}} is deleted: its tokens no longer work.', { name: client.client_name }) });
    } catch (err) {
      await answer(ctx, err, (problem, status) => showClients(ctx, user, { problem }, status));
    }
  });

  // ---- Editing a client's registration ----

  interface EditInput {
    name: string;
    uris: string;
    logoutUris: string;
    backchannel: string;
    thirdParty: boolean;
  }
  const editInputOf = (c: ClientView): EditInput => ({
    name: c.client_name,
    uris: c.redirect_uris.join('\n'),
    logoutUris: c.post_logout_redirect_uris.join('\n'),
    backchannel: c.backchannel_logout_uri ?? '',
    thirdParty: !c.first_party,
  });
  async function showEdit(ctx: Context, user: ConsoleUser, client: ClientView, input: EditInput, errors: FieldErrors, status: number) {
    await deps.page(ctx, user, 'console/platform-client-edit', { current: 'clients', base: BASE, client, input, errors }, status);
  }

  /** The client to edit, or an answer given: not found, or built in (refused with the list's problem). */
  async function editable(ctx: Context, user: ConsoleUser): Promise<ClientView | undefined> {
    const client = (await deps.callRoute(ctx, user, 'get', '/clients/{clientId}', { clientId: ctx.params.clientId! })) as ClientView;
    if (!client.built_in) return client;
    await showClients(ctx, user, { problem: m('{{name}} is built into Gatehouse: it cannot be changed here.', { name: client.client_name }) }, 409);
    return undefined;
  }

  router.get('/platform/clients/:clientId/edit', async (ctx) => {
    const user = await guard(ctx, false);
    if (!user) return;
    try {
      const client = await editable(ctx, user);
      if (client) await showEdit(ctx, user, client, editInputOf(client), {}, 200);
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });

  router.post('/platform/clients/:clientId/edit', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    const input: EditInput = {
      name: field(ctx, 'client_name'),
      uris: field(ctx, 'redirect_uris'),
      logoutUris: field(ctx, 'post_logout_redirect_uris'),
      backchannel: field(ctx, 'backchannel_logout_uri'),
      thirdParty: field(ctx, 'third_party') === 'yes',
    };
    let client: ClientView | undefined;
    try {
      client = await editable(ctx, user);
      if (!client) return;
      const body = {
        client_name: input.name,
        redirect_uris: lines(input.uris),
        post_logout_redirect_uris: lines(input.logoutUris),
        ...(input.backchannel ? { backchannel_logout_uri: input.backchannel } : {}),
        third_party: input.thirdParty,
      };
      const changed = (await deps.callRoute(ctx, user, 'put', '/clients/{clientId}', { clientId: client.client_id }, body)) as ClientView;
      await showClients(ctx, user, { notice: m('The registration of {{name}} is saved.', { name: changed.client_name }) });
    } catch (err) {
      if (!client || !isInvalid(err)) return answer(ctx, err, (problem, status) => showClients(ctx, user, { problem }, status));
      const errors: FieldErrors = {};
      for (const issue of issuesOf(err)) {
        const key = clientField(issue.path);
        errors[key] ??=
          key === 'name'
            ? m('Enter a name of at most 200 characters.')
            : key === 'uris' && !lines(input.uris).length
              ? m('Enter at least one redirect URI.')
              : m('A URI is not acceptable: {{detail}}', { detail: issue.message });
      }
      await showEdit(ctx, user, client, input, errors, 400).catch((e) => deps.refuse(ctx, e));
    }
  });

  // ---- Signing keys ----

  async function showKeys(ctx: Context, user: ConsoleUser, notice: Text | null = null) {
    const { items } = (await deps.callRoute(ctx, user, 'get', '/keys', {})) as { items: Array<{ kid: string; alg: string; state: string; createdAt: string; stateChangedAt: string }> };
    const keys = items.map((k) => ({ ...k, createdAt: new Date(k.createdAt), stateChangedAt: new Date(k.stateChangedAt) }));
    await deps.page(ctx, user, 'console/platform-keys', { current: 'keys', base: BASE, keys, notice });
  }

  router.get('/platform/keys', async (ctx) => {
    const user = await guard(ctx, false);
    if (user) await showKeys(ctx, user).catch((err) => deps.refuse(ctx, err));
  });

  router.get('/platform/keys/rotate', async (ctx) => {
    const user = await guard(ctx, false);
    if (user) await deps.page(ctx, user, 'console/platform-keys-rotate', { current: 'keys', base: BASE });
  });

  router.post('/platform/keys/rotate', deps.parseForm, async (ctx) => {
    const user = await guard(ctx, true);
    if (!user) return;
    try {
      const rotated = (await deps.callRoute(ctx, user, 'post', '/keys/rotate', {})) as { current: string };
      await showKeys(ctx, user, m('The keys are rotated: {{kid}} signs now.', { kid: rotated.current }));
    } catch (err) {
      await deps.refuse(ctx, err);
    }
  });
}
