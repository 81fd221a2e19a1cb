import { clientAddress, ipEntryProblem, ipInList, isIpOrCidr, whitelistAllows } from '../../src/policy/ip.js';
import { validatePolicy } from '../../src/policy/security-policy.js';

describe('ipInList', () => {
  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['11.1.2.3', ['10.0.0.0/8'], false],
    ['192.0.2.7', ['192.0.2.7'], true],
    ['192.0.2.8', ['192.0.2.7'], false],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true], // IPv4-mapped IPv6 counts as IPv4
    ['::ffff:a01:203', ['10.0.0.0/8'], true], // in hexadecimal groups too
    ['::ffff:10.1.2.3', ['10.1.2.3'], true],
    ['10.1.2.3', ['::ffff:a00:0/104'], false], // a mapped block is not an entry: it matches nothing
    ['::ffff:10.1.2.3', ['::ffff:a00:0/104'], false],
    ['::ffff:10.1.2.3', ['::/0'], false], // IPv6 blocks never match IPv4 clients, mapped or not
    ['10.0.0.8', ['10.0.0.010'], false], // non-canonical entries (here, octal) match nothing
    ['10.0.0.10', ['10.0.0.010'], false],
    ['127.0.0.1', ['2130706433', '0x7f.0.0.1', '127.1', '127.0.0.1/08'], false],
    ['2130706433', ['0.0.0.0/0'], false], // nor do non-canonical client addresses
    ['0x7f.0.0.1', ['0.0.0.0/0'], false],
    ['10.0.0.5', ['10.0.0.1/8'], false], // host bits set: not an entry
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

describe('ipEntryProblem: canonical forms only', () => {
  it.each([
    '0.0.0.0/0', '10.0.0.0/8', '192.0.2.7', '192.0.2.7/32', '255.255.255.255', '100.64.0.0/10', '10.0.0.10',
    '::1', '::', '::/0', '2001:db8::/32', '2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', 'fe80::/10', '::/95',
  ])('accepts %j', (entry) => expect(ipEntryProblem(entry)).toBeNull());

  it.each([
    ['10.0.0.010', /dotted-quad/], // octal in inet_aton, decimal elsewhere
    ['010.0.0.1', /dotted-quad/],
    ['10.0.0.00', /dotted-quad/],
    ['2130706433', /dotted-quad/],
    ['0x7f.0.0.1', /dotted-quad/],
    ['0x7f000001', /dotted-quad/],
    ['127.1', /dotted-quad/],
    ['127.0.1', /dotted-quad/],
    ['256.0.0.1', /dotted-quad/],
    ['1.2.3.4.', /dotted-quad/],
    [' 1.2.3.4', /dotted-quad/],
    ['1.2.3.4 ', /prefix|dotted-quad/],
    ['example.com', /dotted-quad/],
    ['', /dotted-quad/],
    ['10.0.0.0/33', /prefix length from 0 to 32/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['10.0.0.0/0x8', /prefix length/],
    ['2001:db8::/129', /prefix length from 0 to 128/],
    ['10.0.0.1/8', /host bits set: write the network address \(10\.0\.0\.0\/8\)/],
    ['192.168.1.128/24', /192\.168\.1\.0\/24/],
    ['2001:db8::1/32', /2001:db8::\/32/],
    ['fe80::1%eth0', /IPv6 address in hexadecimal groups/],
    ['[::1]', /IPv6/],
    ['1::2::3', /IPv6/],
    ['00001::', /IPv6/],
    ['::ffff:1.2.3.4', /IPv6/], // dotted parts are not accepted in entries
    ['::ffff:7f00:0/104', /IPv4-mapped IPv6 block: write it as IPv4 \(127\.0\.0\.0\/8\)/],
    ['::ffff:a00:1', /IPv4-mapped IPv6 address: write it as IPv4 \(10\.0\.0\.1\)/],
    ['::ffff:0:0/96', /write it as IPv4 \(0\.0\.0\.0\/0\)/],
  ])('refuses %j', (entry, message) => expect(ipEntryProblem(entry)).toMatch(message));

  it('the policy names each offending whitelist entry', () => {
    const result = validatePolicy({ login: { ipWhitelist: { enabled: true, cidrs: ['10.0.0.0/8', '10.0.0.010', '::ffff:7f00:0/104', '10.0.0.1/8'] } } });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.field)).toEqual(['login.ipWhitelist.cidrs.1', 'login.ipWhitelist.cidrs.2', 'login.ipWhitelist.cidrs.3']);
  });
});

describe('whitelistAllows', () => {
  it.each([
    [{ enabled: false, cidrs: [] }, '198.51.100.1', true],
    [{ enabled: false, cidrs: [] }, null, true],
    [{ enabled: true, cidrs: ['203.0.113.0/24'] }, '203.0.113.9', true],
    [{ enabled: true, cidrs: ['203.0.113.0/24'] }, '::ffff:203.0.113.9', true],
    [{ enabled: true, cidrs: ['203.0.113.0/24'] }, '198.51.100.1', false],
    [{ enabled: true, cidrs: ['203.0.113.0/24'] }, null, false],
    [{ enabled: true, cidrs: ['203.0.113.0/24'] }, 'unknown', false],
  ] as const)('%j from %s: %s', (whitelist, address, expected) => expect(whitelistAllows(whitelist, address)).toBe(expected));
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
    ['a mapped hop reads as IPv4', '10.0.0.5', '::ffff:198.51.100.7', proxies, '198.51.100.7'],
    ['a non-canonical hop is not believed', '10.0.0.5', '2130706433', proxies, '10.0.0.5'],
    ['an octal-looking hop is not believed', '10.0.0.5', '198.51.100.007', proxies, '10.0.0.5'],
  ] as const)('%s', (_label, socket, xff, trusted, expected) => {
    expect(clientAddress(socket, xff, trusted)).toBe(expected);
  });
});
