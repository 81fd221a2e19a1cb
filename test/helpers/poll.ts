/**
 * Polls `probe` until it returns something other than undefined/false, or throws naming `what` (with the
 * last value seen) once `deadlineMs` has passed. Deadlines are generous bounds for behaviour, not timings.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: { deadlineMs?: number; everyMs?: number; last?: () => unknown } = {},
): Promise<T> {
  const { deadlineMs = 20_000, everyMs = 200 } = options;
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`not within ${deadlineMs} ms: ${what}${options.last ? ` (last: ${JSON.stringify(options.last())})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
