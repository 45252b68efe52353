import type { CompactionJob, CompactionStrategy, TableInfo, VersionView } from '../kv/types.js';
import { LsmError } from '../errors.js';
import { K_CHUNK, chunkKeyStart } from './keys.js';

/** Options of {@link timeWindowCompaction}. @since 0.1.0 */
export interface TimeWindowCompactionOptions {
  /** Width of one partition (ms): chunks whose start falls in one window share output tables. @defaultValue 24 h */
  windowMs?: number | undefined;
  /** L0 tables (or tables of one window in L1) that trigger a merge. @defaultValue 4 */
  minTables?: number | undefined;
  /** Output table size cap. @defaultValue 64 MiB */
  targetTableBytes?: number | undefined;
}

/**
 * A time-window compaction strategy for the time-series layer: L0 tables are merged into L1 split by the
 * time window of each chunk (index keys go to their own untimed tables), and the tables of one window
 * are merged again when they pile up. Each output table then covers one window, so queries prune and
 * retention drops whole windows.
 *
 * @param opts - see {@link TimeWindowCompactionOptions}.
 * @returns a {@link CompactionStrategy} for `openDb` / `openTsdb`.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a non-positive window or table count.
 * @example
 * ```ts
 * import { openTsdb, timeWindowCompaction } from '@dataplane/lsm';
 *
 * const db = await openTsdb('./data', { compaction: timeWindowCompaction({ windowMs: 86_400_000 }) });
 * await db.close();
 * ```
 * @since 0.1.0
 */
export function timeWindowCompaction(opts: TimeWindowCompactionOptions = {}): CompactionStrategy {
  const W = opts.windowMs ?? 86_400_000;
  const minTables = opts.minTables ?? 4;
  const target = opts.targetTableBytes ?? 64 * 1024 * 1024;
  if (!(Number.isFinite(W) && W > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'windowMs must be > 0');
  if (!(Number.isInteger(minTables) && minTables >= 1)) throw new LsmError('LSM_INVALID_ARGUMENT', 'minTables must be an integer >= 1');
  const partition = (key: Uint8Array): number => (key[0] === K_CHUNK && key.length >= 21 ? Math.floor(chunkKeyStart(key) / W) : -(2 ** 53));
  const job = (inputs: readonly TableInfo[]): CompactionJob => ({ inputs: inputs.map((t) => t.id), outputLevel: 1, targetTableBytes: target, partition });
  return {
    name: 'time-window',
    pick(v: VersionView): CompactionJob | undefined {
      const l0 = (v.levels[0] ?? []).filter((t) => !v.busy.has(t.id));
      if (l0.length >= minTables) return job(l0);
      const groups = new Map<number, TableInfo[]>();
      for (let l = 1; l < v.levels.length; l++) {
        for (const t of v.levels[l] ?? []) {
          if (v.busy.has(t.id)) continue;
          const w = t.minTime === undefined || t.maxTime === undefined ? -1 : Math.floor(t.minTime / W) === Math.floor(t.maxTime / W) ? Math.floor(t.minTime / W) : undefined;
          if (w === undefined) continue;
          const g = groups.get(w) ?? [];
          g.push(t);
          groups.set(w, g);
        }
      }
      for (const g of groups.values()) if (g.length >= Math.max(2, minTables)) return job(g);
      return undefined;
    },
  };
}
