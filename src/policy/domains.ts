/** Domain names as Gatehouse stores and compares them. Pure. */
import { domainToASCII } from 'node:url';

/** An ASCII (punycode) host name with at least two labels. */
export const HOSTNAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;

/** NFC, lower-case, no trailing dot, IDN in punycode; null when it is not a domain name. */
export function normalizeDomain(input: string): string | null {
  const trimmed = input.normalize('NFC').trim().toLowerCase().replace(/\.$/, '');
  if (!trimmed || /[\s/@:]/.test(trimmed)) return null;
  const ascii = domainToASCII(trimmed);
  return ascii && HOSTNAME.test(ascii) && !/^\d+(\.\d+)*$/.test(ascii) ? ascii : null;
}

/** The DNS name whose TXT record proves ownership of `domain`. */
export const challengeName = (domain: string): string => `_gatehouse-challenge.${domain}`;

/**
 * Whether any TXT record (each given as its character-strings, which DNS may split at 255 bytes)
 * is exactly the token, once its strings are joined.
 */
export function txtRecordsMatch(records: string[][], token: string): boolean {
  return records.some((strings) => strings.join('') === token);
}
