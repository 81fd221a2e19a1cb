/**
 * Client addresses and address lists. Pure: the caller passes the socket address and headers.
 *
 * Only canonical text is accepted anywhere an address is read: IPv4 as a dotted quad of decimal
 * numbers without leading zeros (no `10.0.0.010`, which other parsers read as octal, no `2130706433`,
 * `0x7f.0.0.1` or `127.1`), IPv6 as RFC 4291 hexadecimal groups (any case, `::` allowed). What one
 * program reads as octal another reads as decimal; refusing every other form means the operator, the
 * proxy and Gatehouse always mean the same address.
 */
import ipaddr from 'ipaddr.js';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
/** Hexadecimal groups and colons only, optionally ending in a dotted quad (::ffff:192.0.2.1). */
const IPV6_TEXT = /^[0-9a-f:]+$/i;
const IPV6_WITH_QUAD = /^([0-9a-f:]+:)([^:]+)$/i;
const PREFIX = /^(?:0|[1-9]\d{0,2})$/;

/** A canonical IPv4 or IPv6 address as written (no zone, no brackets), or null. */
function parseCanonical(text: string, allowEmbeddedQuad: boolean): Parsed | null {
  if (DOTTED_QUAD.test(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':')) return null;
  if (!IPV6_TEXT.test(text)) {
    const quad = IPV6_WITH_QUAD.exec(text);
    if (!allowEmbeddedQuad || !quad || !DOTTED_QUAD.test(quad[2]!)) return null;
  }
  return ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : null;
}

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) compares as the IPv4 address it carries. */
function asIPv4IfMapped(ip: Parsed): Parsed {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

/** A client address from a socket or a trusted X-Forwarded-For hop: canonical forms only, mapped IPv4 as IPv4. */
function parseClient(address: string): Parsed | null {
  const ip = parseCanonical(address.replace(/^\[|\]$/g, ''), true);
  return ip ? asIPv4IfMapped(ip) : null;
}

interface Range {
  ip: Parsed;
  bits: number;
}

/**
 * Why `entry` is not an acceptable whitelist or trusted-proxy entry, or null when it is: a canonical
 * address, or a canonical network address with a decimal prefix length in range and no host bits set
 * (`10.0.0.1/8` is refused rather than silently widened or narrowed). IPv4 is written as IPv4: an
 * IPv4-mapped IPv6 entry (::ffff:7f00:0/104) is refused with the IPv4 block to write instead, since
 * client addresses in that form are compared as IPv4.
 */
export function ipEntryProblem(entry: string): string | null {
  const slash = entry.indexOf('/');
  const addressText = slash === -1 ? entry : entry.slice(0, slash);
  const ip = parseCanonical(addressText, false);
  if (!ip) {
    return addressText.includes(':')
      ? 'must be an IPv6 address in hexadecimal groups (no zone, no dotted IPv4 part)'
      : 'must be an IPv4 address in dotted-quad form (four decimal numbers 0-255, no leading zeros) or an IPv6 address';
  }
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const prefixText = entry.slice(slash + 1);
    if (!PREFIX.test(prefixText) || Number(prefixText) > max) return `must have a prefix length from 0 to ${max}`;
    bits = Number(prefixText);
  }
  if (ip.kind() === 'ipv6' && bits >= 96 && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    const v4 = (ip as ipaddr.IPv6).toIPv4Address().toString();
    return `is an IPv4-mapped IPv6 ${slash === -1 ? 'address' : 'block'}: write it as IPv4 (${slash === -1 ? v4 : `${v4}/${bits - 96}`})`;
  }
  const network = networkAddress(ip, bits);
  if (network.toByteArray().some((byte, i) => byte !== ip.toByteArray()[i])) {
    return `has host bits set: write the network address (${network.toString()}/${bits})`;
  }
  return null;
}

function networkAddress(ip: Parsed, bits: number): Parsed {
  const bytes = ip.toByteArray();
  return ipaddr.fromByteArray(
    bytes.map((byte, i) => {
      const keep = Math.max(0, Math.min(8, bits - i * 8));
      return byte & (0xff << (8 - keep)) & 0xff;
    }),
  );
}

function parseRange(entry: string): Range | null {
  if (ipEntryProblem(entry) !== null) return null; // fail closed: an entry that is not canonical matches nothing
  const [addressText, prefixText] = entry.split('/');
  const ip = parseCanonical(addressText!, false)!;
  return { ip, bits: prefixText === undefined ? (ip.kind() === 'ipv4' ? 32 : 128) : Number(prefixText) };
}

export function isIpOrCidr(entry: string): boolean {
  return ipEntryProblem(entry) === null;
}

/** Whether `address` lies in any of the addresses/CIDR blocks of `list`. */
export function ipInList(address: string, list: readonly string[]): boolean {
  const ip = parseClient(address);
  if (!ip) return false;
  return list.some((entry) => {
    const range = parseRange(entry);
    return range !== null && range.ip.kind() === ip.kind() && ip.match(range.ip as never, range.bits);
  });
}

/** Whether an IP whitelist lets `address` in: off, or on with the address inside a listed block. Unknown addresses are outside. */
export function whitelistAllows(whitelist: { enabled: boolean; cidrs: readonly string[] }, address: string | null | undefined): boolean {
  return !whitelist.enabled || (!!address && ipInList(address, whitelist.cidrs));
}

/**
 * The address of the client: the socket's peer, unless that peer is a trusted proxy, in which case
 * X-Forwarded-For is read from the right, skipping trusted proxies, and the first untrusted hop wins.
 * The leftmost entries are whatever the client chose to send and are never believed on their own.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  const peer = parseClient(socketAddress ?? '')?.toString() ?? socketAddress ?? 'unknown';
  if (!trustedProxies.length || !forwardedFor || !ipInList(peer, trustedProxies)) return peer;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseClient(hops[i]!)?.toString();
    if (!hop) return peer; // a malformed or non-canonical hop: stop believing the header
    if (!ipInList(hop, trustedProxies)) return hop;
  }
  return hops.length ? (parseClient(hops[0]!)?.toString() ?? peer) : peer;
}
