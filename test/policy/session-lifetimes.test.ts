import { absoluteLifetimeSeconds, browserSessionTtl, refreshTokenTtl } from '../../src/policy/session-lifetimes.js';
import { DEFAULT_POLICY } from '../../src/policy/security-policy.js';

const base = DEFAULT_POLICY.session;
const H = 3600;

describe('session lifetimes', () => {
  it.each([
    ['web: webTimeoutHours', 'web', base, 24 * H],
    ['mobile, disabled: the platform ceiling', 'mobile', base, 8760 * H],
    ['desktop, disabled: the platform ceiling', 'desktop', base, 8760 * H],
    ['mobile: mobileExpiryHours', 'mobile', { ...base, mobileExpiryHours: 2 }, 2 * H],
    ['desktop: desktopExpiryHours', 'desktop', { ...base, desktopExpiryHours: 720 }, 720 * H],
    ['never past the ceiling', 'desktop', { ...base, desktopExpiryHours: 87600 }, 8760 * H],
  ] as const)('%s', (_label, type, settings, expected) => {
    expect(absoluteLifetimeSeconds(type, settings, 8760)).toBe(expected);
  });

  it('counts refresh tokens from the sign-in, not from the last refresh', () => {
    expect(refreshTokenTtl('web', base, 8760, 1000, 1000)).toBe(24 * H);
    expect(refreshTokenTtl('web', base, 8760, 1000, 1000 + 23 * H)).toBe(H);
    expect(refreshTokenTtl('web', base, 8760, 1000, 1000 + 30 * H)).toBe(1); // past due: expires at once
  });

  it('lets web refresh tokens and sessions lapse after the idle timeout, never past the absolute limit', () => {
    const idle = { ...base, webIdleTimeoutMinutes: 30 };
    expect(refreshTokenTtl('web', idle, 8760, 1000, 1000)).toBe(30 * 60);
    expect(refreshTokenTtl('web', idle, 8760, 1000, 1000 + 24 * H - 600)).toBe(600);
    expect(refreshTokenTtl('mobile', idle, 8760, 1000, 1000)).toBe(8760 * H); // idle applies to web only
    expect(browserSessionTtl(idle, 1000, 1000)).toBe(30 * 60);
    expect(browserSessionTtl(base, 1000, 1000 + H)).toBe(23 * H);
  });
});
