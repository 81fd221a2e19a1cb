/**
 * Where Gatehouse may send back-channel logout tokens. Pure: the caller passes the host name of the URL
 * and the address the connection actually reached.
 *
 * oidc-provider refuses every special-use address (loopback, private networks, link-local, …), so that
 * a client's URI cannot make the provider call into its own network. In-house apps live exactly there,
 * so the operator names the networks and host names that may be reached anyway
 * (BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS); every other special-use destination stays refused.
 */
import ipaddr from 'ipaddr.js';
import { ipInList, isIpOrCidr } from './ip.js';

export interface OutboundAllowlist {
  /** Addresses and CIDR blocks. */
  networks: string[];
  /** Exact host names, lower case, without a trailing dot. */
  hosts: string[];
}

const hostKey = (hostname: string): string => hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();

/** Splits the setting's entries into networks and host names. */
export function outboundAllowlist(entries: readonly string[]): OutboundAllowlist {
  const networks = entries.filter(isIpOrCidr);
  return { networks, hosts: entries.filter((e) => !networks.includes(e)).map(hostKey) };
}

/**
 * Anything but a global unicast address is special-use (ipaddr.js's ranges: loopback, private, link-local,
 * unique-local, carrier-grade NAT, multicast, documentation, 6to4, Teredo, …); an IPv4-mapped IPv6
 * address is judged as the IPv4 address it carries; what does not parse counts as special (fail closed).
 */
export function isSpecialUseAddress(address: string): boolean {
  try {
    let ip: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
    return ip.range() !== 'unicast';
  } catch {
    return true;
  }
}

/**
 * Why a logout token must not travel over a connection to `address`, reached for the URL host
 * `hostname`; null when it may. Public addresses are always fine; a special-use one only when the
 * address lies in an allowed network or the URL names an allowed host.
 */
export function outboundRefusal(hostname: string, address: string, allow: OutboundAllowlist): string | null {
  if (!isSpecialUseAddress(address)) return null;
  if (allow.hosts.includes(hostKey(hostname))) return null;
  if (ipInList(address, allow.networks)) return null;
  return `${hostKey(hostname)} resolves to ${address}, a special-use address not allowed by BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS`;
}
