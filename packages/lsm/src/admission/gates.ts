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

/** The part of an engine's stats() that {@link level0Gate} reads (the KV engine's `DbStats` fits). */
export interface LevelsSnapshot {
  levels: readonly { level: number; tables: number }[];
}

/**
 * A gate on the level-0 backlog: the number of level-0 tables waiting for compaction. Many L0 tables
 * mean reads check many files and compaction is behind; refusing early beats stalling every write.
 *
 * @param stats - returns the engine's stats (e.g. `() => db.stats()`).
 * @param limit - close above this many level-0 tables.
 * @returns a gate named `'level0'`.
 * @example
 * ```ts
 * import { createAdmissionController, level0Gate } from '@dataplane/lsm';
 *
 * const ac = createAdmissionController({ gates: [level0Gate(() => ({ levels: [{ level: 0, tables: 3 }] }), 12)] });
 * ac.admit('write');
 * ```
 * @since 0.1.0
 */
export function level0Gate(stats: () => LevelsSnapshot, limit: number): AdmissionGateOptions {
  return {
    name: 'level0',
    limit,
    appliesTo: ['write'],
    read: () => stats().levels.find((l) => l.level === 0)?.tables ?? 0,
  };
}

/** The part of an engine's stats() that {@link walLagGate} reads (the KV engine's `DbStats` fits). */
export interface WalSnapshot {
  /** Bytes in the WAL not yet flushed to tables. */
  walBytes: number;
}

/**
 * A gate on WAL lag: bytes written to the write-ahead log but not yet flushed to tables (what a crash
 * would replay, and memory the memtables hold).
 *
 * @param stats - returns the engine's stats (e.g. `() => db.stats()`).
 * @param limitBytes - close above this many bytes.
 * @returns a gate named `'walLag'`.
 * @example
 * ```ts
 * import { createAdmissionController, walLagGate } from '@dataplane/lsm';
 *
 * const ac = createAdmissionController({ gates: [walLagGate(() => ({ walBytes: 1024 }), 256 * 2 ** 20)] });
 * ac.admit('write');
 * ```
 * @since 0.1.0
 */
export function walLagGate(stats: () => WalSnapshot, limitBytes: number): AdmissionGateOptions {
  return { name: 'walLag', limit: limitBytes, appliesTo: ['write'], read: () => stats().walBytes };
}
