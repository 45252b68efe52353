import { LsmError } from '../errors.js';

/** @internal Throws LSM_INVALID_ARGUMENT unless `p` is an integer in `0..partitions-1`. */
export function checkPartition(p: number, partitions: number): void {
  if (!Number.isInteger(p) || p < 0 || p >= partitions) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `partition must be an integer in 0..${partitions - 1}, got ${String(p)}`);
  }
}

/** @internal Validates a partition count. */
export function checkPartitionCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 65_536) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `partitions must be an integer in 1..65536, got ${String(n)}`);
  }
}

/** @internal Validates a topic name (letters, digits, `_`, `-`). */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !/^[A-Za-z0-9_-]{1,200}$/.test(topic)) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `topic must match [A-Za-z0-9_-]{1,200}, got ${JSON.stringify(topic)}`);
  }
}

/** @internal Validates the payloads given to produce(). */
export function checkValues(values: readonly Uint8Array[]): void {
  if (!Array.isArray(values)) throw new LsmError('LSM_INVALID_ARGUMENT', 'values must be an array of Uint8Array');
  for (const v of values) {
    if (!(v instanceof Uint8Array)) throw new LsmError('LSM_INVALID_ARGUMENT', 'every value must be a Uint8Array');
  }
}

/** @internal Validates a positive integer option. */
export function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new LsmError('LSM_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(v)}`);
  return v;
}

/** @internal Throws LSM_ABORTED when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LsmError('LSM_ABORTED', 'operation aborted', { cause: signal.reason });
}

/** @internal Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
