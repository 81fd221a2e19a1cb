import { jest } from '@jest/globals';

/**
 * Moves the in-process clock (Date) forward, as if time passed, without waiting. Only Date is faked,
 * and it keeps running with real time between jumps; timers, I/O and Redis are untouched. Everything
 * Gatehouse computes from "now" (nowSeconds, oidc-provider) sees the jump exactly as it would see a wait.
 */
export const clock = {
  install(): void {
    jest.useFakeTimers({
      advanceTimers: true,
      doNotFake: [
        'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
        'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval',
        'setTimeout', 'clearTimeout',
      ],
    });
  },
  advance(seconds: number): void {
    jest.setSystemTime(Date.now() + seconds * 1000);
  },
  /** Sets the clock to an epoch second (it runs on from there). */
  set(epochSeconds: number): void {
    jest.setSystemTime(epochSeconds * 1000);
  },
  uninstall(): void {
    jest.useRealTimers();
  },
};
