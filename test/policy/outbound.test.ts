import { isSpecialUseAddress, outboundAllowlist, outboundRefusal } from '../../src/policy/outbound.js';

describe('special-use addresses (the destinations back-channel logout refuses unless allowed)', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '192.0.2.1', '198.18.0.1', '224.0.0.1', '255.255.255.255', '::', '::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
    'fe80::1', 'fc00::1', 'fd12::1', '2001:db8::1', '2002::1', '64:ff9b::a00:1', 'ff02::1', 'not-an-address', '',
  ])('%s is special-use', (address) => expect(isSpecialUseAddress(address)).toBe(true));

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) =>
    expect(isSpecialUseAddress(address)).toBe(false));
});

describe('outboundRefusal', () => {
  const allow = outboundAllowlist(['10.20.0.0/16', '127.0.0.1', 'fd00:1::/32', 'App.Internal']);

  it('lets public destinations through whatever the allowlist says', () => {
    expect(outboundRefusal('rp.example.com', '93.184.216.34', outboundAllowlist([]))).toBeNull();
  });

  it('refuses special-use destinations by default, naming the host, the address and the setting', () => {
    expect(outboundRefusal('localhost', '127.0.0.1', outboundAllowlist([]))).toBe(
      'localhost resolves to 127.0.0.1, a special-use address not allowed by BACKCHANNEL_LOGOUT_ALLOWED_NETWORKS',
    );
  });

  it.each([
    ['in an allowed block', 'portal.corp', '10.20.3.4'],
    ['an allowed address', 'localhost', '127.0.0.1'],
    ['an allowed address, IPv4-mapped', 'localhost', '::ffff:127.0.0.1'],
    ['in an allowed IPv6 block', 'v6.corp', 'fd00:1::5'],
    ['of an allowed host name, whatever it resolves to', 'app.internal.', '10.99.0.1'],
    ['of an allowed host name, in another case', 'APP.internal', '192.168.0.7'],
  ])('allows a special-use destination %s', (_why, host, address) => expect(outboundRefusal(host, address, allow)).toBeNull());

  it.each([
    ['outside the allowed blocks', 'portal.corp', '10.21.0.1'],
    ['another loopback address', 'localhost', '127.0.0.2'],
    ['IPv6 loopback when only 127.0.0.1 is allowed', '[::1]', '::1'],
    ['cloud metadata', '169.254.169.254', '169.254.169.254'],
    ['a name that merely ends like an allowed one', 'evil.app.internal', '10.99.0.1'],
    ['an allowed name as a prefix', 'app.internal.evil.example', '10.99.0.1'],
  ])('refuses a special-use destination %s', (_why, host, address) => expect(outboundRefusal(host, address, allow)).toMatch(/special-use/));
});
