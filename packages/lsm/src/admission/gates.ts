import type { AdmissionGateOptions } from './admission-controller.js';
import type { LogSource } from '../log/log-source.js';

/**
 * A gate on the process's resident memory (`process.memoryUsage.rss()`).
 *
 * @param limitBytes - close above this many bytes.
 * @returns a gate for {@link createAdmissionController}.
 * @example
 * ```ts
 * import { createAdmissionController, memoryGate } from '@dataplane/lsm';
 *
 * const ac = createAdmissionController({ gates: [memoryGate(1024 * 2 ** 20)] });
 * ac.admit('write');
 * ```
 * @since 0.1.0
 */
export function memoryGate(limitBytes: number): AdmissionGateOptions {
  return { name: 'memory', limit: limitBytes, read: () => process.memoryUsage.rss() };
}

/**
 * A gate on how far a consumer is behind a log: the records not yet applied, summed over partitions.
 *
 * @remarks
 * The value is refreshed in the background by {@link LogLagProbe.refresh} (the log's end offsets need a
 * round trip), so reading it stays synchronous and cheap. Offsets are not dense, so lag is measured in
 * offset units: records for the memory log, stream sequences for JetStream, and `(ms << 22) + seq` for
 * Redis Streams (set `limit` to `maxLagMs * 2 ** 22` there).
 *
 * @param name - gate name. @defaultValue 'logLag'
 * @returns the probe and its gate.
 * @example
 * ```ts
 * import { createAdmissionController, createMemoryLog, logLagGate } from '@dataplane/lsm';
 *
 * const log = createMemoryLog({ partitions: 1 });
 * const probe = logLagGate(log, 10_000, () => new Map([[0, 0n]]));
 * await probe.refresh();
 * const ac = createAdmissionController({ gates: [probe.gate] });
 * ac.admit('query');
 * ```
 * @since 0.1.0
 */
export function logLagGate(
  log: LogSource,
  limit: number,
  applied: () => ReadonlyMap<number, bigint | undefined>,
  name = 'logLag',
): LogLagProbe {
  let lag = 0;
  return {
    gate: { name, limit, read: () => lag },
    async refresh(signal) {
      let total = 0n;
      for (const [p, at] of applied()) {
        if (signal?.aborted) return lag;
        const end = await log.endOffset(p, signal);
        if (end !== undefined) total += end - (at ?? 0n) > 0n ? end - (at ?? 0n) : 0n;
      }
      lag = Number(total);
      return lag;
    },
  };
}

/** A log-lag gate and the function that refreshes its value. */
export interface LogLagProbe {
  gate: AdmissionGateOptions;
  /** Re-reads the log's end offsets; returns the new lag. */
  refresh(signal?: AbortSignal): Promise<number>;
}
