import { clientAddress, ipInList, isIpOrCidr } from '../../src/policy/ip.js';

describe('ipInList', () => {
  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['11.1.2.3', ['10.0.0.0/8'], false],
    ['192.0.2.7', ['192.0.2.7'], true],
    ['192.0.2.8', ['192.0.2.7'], false],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true], // IPv4-mapped IPv6 counts as IPv4
    ['2001:db8::1', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32'], false],
    ['10.1.2.3', ['2001:db8::/32'], false],
    ['not-an-ip', ['0.0.0.0/0'], false],
    ['127.0.0.1', [], false],
  ] as const)('%s in %j: %s', (ip, list, expected) => expect(ipInList(ip, list)).toBe(expected));

  it.each([
    ['10.0.0.0/8', true],
    ['10.0.0.0/33', false],
    ['::1', true],
    ['2001:db8::/129', false],
    ['example.com', false],
    ['', false],
  ])('isIpOrCidr(%j) = %s', (entry, expected) => expect(isIpOrCidr(entry)).toBe(expected));
});

describe('clientAddress', () => {
  const proxies = ['10.0.0.0/8'];
  it.each([
    ['no proxies configured: the socket, whatever the header says', '203.0.113.9', '1.2.3.4', [], '203.0.113.9'],
    ['an untrusted peer cannot forge its address', '203.0.113.9', '1.2.3.4', proxies, '203.0.113.9'],
    ['through a trusted proxy: the hop before it', '10.0.0.5', '198.51.100.7', proxies, '198.51.100.7'],
    ['the client-written leftmost entry is skipped', '10.0.0.5', '6.6.6.6, 198.51.100.7', proxies, '198.51.100.7'],
    ['chains of trusted proxies are walked', '10.0.0.5', '198.51.100.7, 10.0.0.9', proxies, '198.51.100.7'],
    ['an all-proxy chain gives its first hop', '10.0.0.5', '10.0.0.8, 10.0.0.9', proxies, '10.0.0.8'],
    ['a malformed hop stops at the socket', '10.0.0.5', '198.51.100.7, garbage', proxies, '10.0.0.5'],
    ['IPv4-mapped socket addresses read as IPv4', '::ffff:127.0.0.1', undefined, [], '127.0.0.1'],
  ] as const)('%s', (_label, socket, xff, trusted, expected) => {
    expect(clientAddress(socket, xff, trusted)).toBe(expected);
  });
});
