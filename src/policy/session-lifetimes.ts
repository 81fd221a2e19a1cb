/**
 * How long browser sessions and refresh tokens live, from the `session.*` settings of the policy that
 * governs the user. Pure: callers pass the clock. Lifetimes are absolute, counted from the sign-in (a
 * refresh token's `iiat` survives rotation), so activity never extends a session past its limit; the
 * web idle timeout is the one thing activity resets.
 */
import type { SecurityPolicy } from './security-policy.js';

export type SessionType = 'web' | 'mobile' | 'desktop';
export type SessionSettings = SecurityPolicy['session'];

const HOUR = 3600;

/** Absolute lifetime, in seconds, of a session of this type; a disabled expiry means the platform ceiling. */
export function absoluteLifetimeSeconds(type: SessionType, s: SessionSettings, ceilingHours: number): number {
  const hours = type === 'web' ? s.webTimeoutHours : ((type === 'mobile' ? s.mobileExpiryHours : s.desktopExpiryHours) ?? ceilingHours);
  return Math.min(hours, ceilingHours) * HOUR;
}

/**
 * Seconds left, never below 1 (a zero TTL would mean "no expiry" to the token store; an artifact whose
 * time is up gets a one-second life and is refused by its own expiry check).
 */
const left = (seconds: number) => Math.max(1, Math.floor(seconds));

/** TTL of a refresh token issued now, for a sign-in at `iiat`: absolute limit, and for web the idle timeout. */
export function refreshTokenTtl(type: SessionType, s: SessionSettings, ceilingHours: number, iiat: number, now: number): number {
  const remaining = iiat + absoluteLifetimeSeconds(type, s, ceilingHours) - now;
  const idle = type === 'web' && s.webIdleTimeoutMinutes !== null ? s.webIdleTimeoutMinutes * 60 : Infinity;
  return left(Math.min(remaining, idle));
}

/** TTL of the browser session, saved again on every request that uses it (so the idle timeout restarts). */
export function browserSessionTtl(s: SessionSettings, loginTs: number, now: number): number {
  const remaining = loginTs + s.webTimeoutHours * HOUR - now;
  const idle = s.webIdleTimeoutMinutes !== null ? s.webIdleTimeoutMinutes * 60 : Infinity;
  return left(Math.min(remaining, idle));
}
