/**
 * How long sessions and refresh tokens live, by client session type. Pure: callers pass the clock.
 * Every lifetime is absolute, counted from the sign-in (a refresh token's `iiat` survives rotation),
 * so activity never extends a session past its limit.
 */
export type SessionType = 'web' | 'mobile' | 'desktop';

export interface SessionLimits {
  webSessionHours: number;
  /** null: no policy limit; the platform ceiling applies. */
  mobileSessionHours: number | null;
  desktopSessionHours: number | null;
  refreshTokenMaxHours: number;
}

const HOUR = 3600;

/** Absolute lifetime, in seconds, of a session or refresh token of a client of this type. */
export function absoluteLifetimeSeconds(sessionType: SessionType, limits: SessionLimits): number {
  const hours =
    sessionType === 'web'
      ? limits.webSessionHours
      : ((sessionType === 'mobile' ? limits.mobileSessionHours : limits.desktopSessionHours) ?? limits.refreshTokenMaxHours);
  return Math.min(hours, limits.refreshTokenMaxHours) * HOUR;
}

/**
 * Seconds left for something that started at `startedAt` (epoch seconds) and may live `lifetime`
 * seconds in all. Never below 1: a zero TTL would mean "no expiry" to the token store; an artifact
 * whose time is up gets a one-second life and is refused by the caller's own expiry check.
 */
export function remainingSeconds(startedAt: number, lifetime: number, now: number): number {
  return Math.max(1, startedAt + lifetime - now);
}
