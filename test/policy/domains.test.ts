import { challengeName, normalizeDomain, txtRecordsMatch } from '../../src/policy/domains.js';

describe('normalizeDomain', () => {
  it.each([
    ['acme.example', 'acme.example'],
    ['  ACME.Example.  ', 'acme.example'], // trimmed, lower-case, no trailing dot
    ['Bücher.example', 'xn--bcher-kva.example'], // IDN in punycode
    ['bu\u0308cher.example', 'xn--bcher-kva.example'], // NFC first
    ['a-b.example', 'a-b.example'],
    ['sub.acme.example', 'sub.acme.example'],
    ['x.io', 'x.io'],
    [`${'a'.repeat(63)}.example`, `${'a'.repeat(63)}.example`],
  ])('%j → %j', (input, expected) => expect(normalizeDomain(input)).toBe(expected));

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['.', 'only a dot'],
    ['localhost', 'one label'],
    ['127.0.0.1', 'an IPv4 address'],
    ['1.2', 'digits only'],
    ['a b.example', 'a space'],
    ['a\tb.example', 'a tab'],
    ['acme.example/path', 'a slash'],
    ['user@acme.example', 'an @'],
    ['acme.example:443', 'a port'],
    ['-acme.example', 'a leading hyphen'],
    ['acme-.example', 'a trailing hyphen in a label'],
    ['acme..example', 'an empty label'],
    ['acme.x', 'a one-letter top-level label'],
    [`${'a'.repeat(64)}.example`, 'a label over 63'],
    [`${'abcdefghi.'.repeat(25)}example`, 'a name over 253'],
    ['acme_corp.example', 'an underscore'],
  ])('%j (%s) is not a domain', (input) => expect(normalizeDomain(input)).toBeNull());
});

describe('domain verification records', () => {
  it('names the challenge under the domain', () => expect(challengeName('acme.example')).toBe('_gatehouse-challenge.acme.example'));

  it('matches a record whose character-strings join to exactly the token', () => {
    expect(txtRecordsMatch([['v=spf1 -all'], ['tok', 'en']], 'token')).toBe(true);
    expect(txtRecordsMatch([['token']], 'token')).toBe(true);
    expect(txtRecordsMatch([['token ']], 'token')).toBe(false);
    expect(txtRecordsMatch([['TOKEN']], 'token')).toBe(false);
    expect(txtRecordsMatch([['tok'], ['en']], 'token')).toBe(false); // two records are not one
    expect(txtRecordsMatch([], 'token')).toBe(false);
  });
});
