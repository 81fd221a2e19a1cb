/**
 * Client addresses and address lists. Pure: the caller passes the socket address and headers.
 */
import ipaddr from 'ipaddr.js';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) compares as the IPv4 address it carries. */
function parse(address: string): Parsed | null {
  try {
    const ip = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
    return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  } catch {
    return null;
  }
}

function parseRange(entry: string): [Parsed, number] | null {
  try {
    if (entry.includes('/')) {
      const [ip, bits] = ipaddr.parseCIDR(entry);
      return [ip, bits];
    }
    const ip = parse(entry);
    return ip ? [ip, ip.kind() === 'ipv4' ? 32 : 128] : null;
  } catch {
    return null;
  }
}

export function isIpOrCidr(entry: string): boolean {
  return parseRange(entry) !== null;
}

/** Whether `address` lies in any of the addresses/CIDR blocks of `list`. */
export function ipInList(address: string, list: readonly string[]): boolean {
  const ip = parse(address);
  if (!ip) return false;
  return list.some((entry) => {
    const range = parseRange(entry);
    return range !== null && range[0].kind() === ip.kind() && ip.match(range);
  });
}

/**
 * The address of the client: the socket's peer, unless that peer is a trusted proxy, in which case
 * X-Forwarded-For is read from the right, skipping trusted proxies, and the first untrusted hop wins.
 * The leftmost entries are whatever the client chose to send and are never believed on their own.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  const peer = parse(socketAddress ?? '')?.toString() ?? socketAddress ?? 'unknown';
  if (!trustedProxies.length || !forwardedFor || !ipInList(peer, trustedProxies)) return peer;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parse(hops[i]!)?.toString();
    if (!hop) return peer; // a malformed hop: stop believing the header
    if (!ipInList(hop, trustedProxies)) return hop;
  }
  return hops.length ? (parse(hops[0]!)?.toString() ?? peer) : peer;
}
