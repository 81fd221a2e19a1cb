import { randomUUID } from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { AccountRecord, AccountStore } from '../stores/sql/accounts.js';
import { nowSeconds } from '../stores/db.js';
import type { PasswordHasher } from './passwords.js';
import { normalizePassword } from './passwords.js';

export class ValidationError extends Error {
  constructor(readonly errors: Array<{ field: string; message: string }>) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

/** Unicode local parts are allowed (RFC 6531); no spaces, quotes or other specials. */
const LOCAL_PART = /^(?!\.)(?!.*\.\.)[^\s@"(),:;<>[\\\]]{1,64}(?<!\.)$/u;
/** An ASCII (punycode) host name with at least two labels. */
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;

/**
 * The one spelling of an email address that Gatehouse stores and compares: NFC, trimmed, lower-case,
 * with an internationalized domain in its ASCII (punycode) form. Returns null when it is not an address.
 */
export function normalizeEmail(input: string): string | null {
  const trimmed = input.normalize('NFC').trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return null;
  const domain = domainToASCII(trimmed.slice(at + 1));
  if (!domain) return null;
  const local = trimmed.slice(0, at);
  const email = `${local}@${domain}`;
  return LOCAL_PART.test(local) && HOSTNAME.test(domain) && email.length <= 320 ? email : null;
}

export interface NewAccount {
  email: string;
  password: string;
  name?: string;
}

export type Authentication = { ok: true; account: AccountRecord } | { ok: false };

export class AccountService {
  constructor(
    private readonly accounts: AccountStore,
    private readonly hasher: PasswordHasher,
  ) {}

  async create(input: NewAccount): Promise<AccountRecord> {
    const errors: Array<{ field: string; message: string }> = [];
    const email = normalizeEmail(input.email ?? '');
    if (!email) errors.push({ field: 'email', message: 'must be a valid email address' });
    if (!input.password) errors.push({ field: 'password', message: 'is required' });
    else if (normalizePassword(input.password) === null) errors.push({ field: 'password', message: 'must be at most 1024 bytes' });
    const name = input.name?.trim() || null;
    if (name && name.length > 200) errors.push({ field: 'name', message: 'must be at most 200 characters' });
    if (errors.length) throw new ValidationError(errors);

    const now = nowSeconds();
    const account: AccountRecord = {
      id: randomUUID(),
      email: email!,
      name,
      passwordHash: await this.hasher.hash(input.password),
      status: 'active',
      passwordChangedAt: now,
      createdAt: now,
      updatedAt: now,
    };
    await this.accounts.create(account);
    return account;
  }

  findById(id: string): Promise<AccountRecord | undefined> {
    return this.accounts.findById(id);
  }

  /**
   * Checks an email and password. Unknown emails, disabled accounts and wrong passwords all cost one
   * argon2 verification and give the same answer. A correct password hashed with old parameters is rehashed.
   */
  async authenticate(emailInput: string, password: string): Promise<Authentication> {
    const email = normalizeEmail(emailInput);
    const account = email ? await this.accounts.findByEmail(email) : undefined;
    if (!account) {
      await this.hasher.burn(password);
      return { ok: false };
    }
    const { ok, rehash } = await this.hasher.verify(account.passwordHash, password);
    if (!ok || account.status !== 'active') return { ok: false };
    if (rehash) await this.accounts.replaceHash(account.id, await this.hasher.hash(password), nowSeconds());
    return { ok: true, account };
  }
}
