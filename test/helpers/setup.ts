/**
 * Set-up steps that assert their own success. A `beforeAll` that creates an organization, verifies a
 * domain or stores a policy and silently fails would leave the tests running under the baseline
 * policy, where many of them still pass for the wrong reason; these helpers throw instead, naming
 * the step and what the API answered.
 */
import type { AdminHarness } from './admin.js';

type Answer = Awaited<ReturnType<AdminHarness['api']>>;

/** Throws unless the admin API answered `expected`; returns the answer. */
export function expectStatus(step: string, res: Answer, expected: number): Answer {
  if (res.status !== expected) throw new Error(`set-up failed: ${step} answered ${res.status}, expected ${expected}: ${JSON.stringify(res.body)}`);
  return res;
}

/** Creates an organization; returns its id. */
export async function createOrganization(h: AdminHarness, name: string): Promise<string> {
  const res = expectStatus(`POST /organizations ${name}`, await h.api('POST', '/organizations', { name }), 201);
  if (typeof res.body?.id !== 'string') throw new Error(`set-up failed: no id for organization ${name}`);
  return res.body.id;
}

/**
 * Claims `domain` for the organization, publishes the challenge on the test DNS server and verifies it
 * through the API; throws unless the claim ends up `verified`, and checks the claim list agrees.
 */
export async function verifyDomain(h: AdminHarness, orgId: string, domain: string): Promise<void> {
  const listed = expectStatus(`GET domains of ${orgId}`, await h.api('GET', `/organizations/${orgId}/domains`), 200);
  const existing = (listed.body.items as Array<{ domain: string; verification?: { value: string } }>).find((d) => d.domain === domain);
  let value: string | undefined = existing?.verification?.value;
  if (!existing) {
    const claim = expectStatus(`claim ${domain}`, await h.api('POST', `/organizations/${orgId}/domains`, { domain }), 201);
    value = claim.body.verification?.value;
  }
  if (typeof value !== 'string') throw new Error(`set-up failed: no DNS challenge for ${domain}`);
  h.dns.txt.set(`_gatehouse-challenge.${domain}`, [[value]]);
  const verified = await h.api('POST', `/organizations/${orgId}/domains/${domain}/verify`);
  if (verified.status !== 200 || verified.body?.status !== 'verified') {
    throw new Error(`set-up failed: verifying ${domain} answered ${verified.status}: ${JSON.stringify(verified.body)}`);
  }
}

/** An organization with `domain` verified: the organization's policy governs addresses on it. */
export async function organizationWithDomain(h: AdminHarness, name: string, domain: string): Promise<string> {
  const orgId = await createOrganization(h, name);
  await verifyDomain(h, orgId, domain);
  return orgId;
}

/** Replaces the organization's policy (fields left out take their defaults); throws unless stored. */
export async function putPolicy(h: AdminHarness, orgId: string, policy: object): Promise<void> {
  expectStatus(`PUT security-policy of ${orgId}`, await h.api('PUT', `/organizations/${orgId}/security-policy`, { policy }), 200);
}

/** Creates a user with a password; returns the id. */
export async function createUser(h: AdminHarness, email: string, password: string, extra: object = {}): Promise<string> {
  const res = expectStatus(`POST /users ${email}`, await h.api('POST', '/users', { email, password, ...extra }), 201);
  return res.body.id;
}
