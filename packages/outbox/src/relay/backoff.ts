/**
 * Exponential backoff with full jitter: a random delay in `[0, min(maxMs, initialMs * 2^(attempt-1))]`, never below
 * `initialMs / 2`.
 *
 * @param attempt - 1 for the first retry.
 * @param initialMs - First ceiling.
 * @param maxMs - Largest ceiling.
 * @param random - Uniform [0, 1). @defaultValue Math.random
 * @returns Milliseconds to wait.
 * @example
 * ```ts
 * import { backoffDelay } from '@dataplane/outbox';
 *
 * const ms = backoffDelay(3, 100, 5000); // between 50 and 400
 * ```
 * @since 0.1.0
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceil = Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.max(initialMs / 2, ceil * random());
}

/** Sleeps `ms`, resolving early (without throwing) when `signal` aborts. @internal */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
