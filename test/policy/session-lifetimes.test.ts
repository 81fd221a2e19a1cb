import { absoluteLifetimeSeconds, remainingSeconds, type SessionLimits } from '../../src/policy/session-lifetimes.js';

const limits: SessionLimits = { webSessionHours: 24, mobileSessionHours: null, desktopSessionHours: 720, refreshTokenMaxHours: 8760 };

describe('session lifetimes', () => {
  it.each([
    ['web', limits, 24 * 3600],
    ['mobile', limits, 8760 * 3600], // disabled: the platform ceiling
    ['desktop', limits, 720 * 3600],
    ['mobile', { ...limits, mobileSessionHours: 2 }, 2 * 3600],
    ['desktop', { ...limits, desktopSessionHours: 87600 }, 8760 * 3600], // never past the ceiling
  ] as const)('%s clients: %#', (type, l, expected) => {
    expect(absoluteLifetimeSeconds(type, l)).toBe(expected);
  });

  it('counts from the sign-in, not from the last refresh', () => {
    expect(remainingSeconds(1000, 3600, 1000)).toBe(3600);
    expect(remainingSeconds(1000, 3600, 4000)).toBe(600);
    expect(remainingSeconds(1000, 3600, 9999)).toBe(1);
  });
});
