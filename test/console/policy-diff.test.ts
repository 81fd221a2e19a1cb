import { securityPolicySchema } from '../../src/policy/security-policy.js';
import { translator } from '../../src/i18n/index.js';
import { describeChanges } from '../../src/console/policy-diff.js';
import { csvRow } from '../../src/console/csv.js';

/** The audit trail's readable before/after, and the CSV export's cells. Pure functions. */
const en = translator('en');
const lines = (before: unknown, after: unknown) => describeChanges(before, after).map((c) => `${en.text(c.label)}: ${en.text(c.from)} → ${en.text(c.to)}`);

describe('describeChanges', () => {
  const before = securityPolicySchema.parse({});

  it('lists only the changed fields, in plain words', () => {
    const after = securityPolicySchema.parse({ password: { minLength: 12 }, authentication: { enforce2fa: true } });
    expect(lines(before, after)).toEqual(['Minimum password length: 8 → 12', 'Enforce 2FA: off → on']);
  });

  it('reads nothing as "none" and lists as comma-separated values', () => {
    const after = securityPolicySchema.parse({ password: { expirationDays: 90 }, login: { ipWhitelist: { enabled: true, cidrs: ['10.0.0.0/8', '192.0.2.1'] } } });
    expect(lines(before, after)).toEqual(['Password expires after (days): none → 90', 'IP whitelist: off → on', 'Allowed addresses: none → 10.0.0.0/8, 192.0.2.1']);
  });

  it('no change, no lines; a side that is missing counts as none', () => {
    expect(lines(before, before)).toEqual([]);
    expect(lines({ role: null }, { role: 'admin' })).toEqual(['Role: none → Admin']);
    expect(lines({ role: 'owner' }, null)).toEqual(['Role: Owner → none']);
  });

  it('an unlock reads as failed sign-ins and a lock time in UTC, not as raw numbers', () => {
    expect(lines({ failedAttempts: 5, lockedUntil: 1_795_928_987 }, { failedAttempts: 0, lockedUntil: null })).toEqual([
      'Failed sign-ins in a row: 5 → 0',
      'Locked until: 2026-11-29 05:09 UTC → none',
    ]);
  });

  it('an unknown field is named by its path', () => {
    expect(lines({ a: { b: 1 } }, { a: { b: 2 } })).toEqual(['a.b: 1 → 2']);
  });
});

describe('csvRow', () => {
  it('quotes every cell, doubles quotes, ends with CRLF', () => {
    expect(csvRow(['a', 'say "hi"', 'x,y', 'two\nlines'])).toBe('"a","say ""hi""","x,y","two\nlines"\r\n');
  });

  it('turns cells that a spreadsheet would run as a formula into text', () => {
    expect(csvRow(['=1+2', '+1', '-1', '@SUM(A1)', '\tx', 'a=b'])).toBe(`"'=1+2","'+1","'-1","'@SUM(A1)","'\tx","a=b"\r\n`);
  });
});
