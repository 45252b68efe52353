/** The default leveled compaction strategy. */
import type { CompactionJob, CompactionStrategy, TableInfo, VersionView } from './types.js';
import { compareBytes } from '../internal/bytes.js';

/** Options of {@link leveledCompaction}. @since 0.1.0 */
export interface LeveledCompactionOptions {
  /** L0 table count that triggers an L0 -> L1 compaction. @defaultValue 4 */
  l0Trigger?: number | undefined;
  /** Target bytes of L1; level n holds `multiplier^(n-1)` times that. @defaultValue 64 MiB */
  baseLevelBytes?: number | undefined;
  /** Growth factor between levels. @defaultValue 10 */
  multiplier?: number | undefined;
  /** Output table size. @defaultValue 16 MiB */
  targetTableBytes?: number | undefined;
}

function overlaps(a: TableInfo, lo: Uint8Array, hi: Uint8Array): boolean {
  return compareBytes(a.largest, lo) >= 0 && compareBytes(a.smallest, hi) <= 0;
}

/**
 * Leveled compaction (LevelDB/RocksDB style): L0 tables are merged into L1 when `l0Trigger` pile up;
 * a level over its byte target pushes its oldest table into the next level with the tables it overlaps.
 *
 * @param opts - thresholds; see {@link LeveledCompactionOptions}.
 * @returns a {@link CompactionStrategy} for `DbOptions.compaction`.
 * @example
 * ```ts
 * import { openDb, leveledCompaction } from '@dataplane/lsm';
 *
 * const db = await openDb('./data', { compaction: leveledCompaction({ l0Trigger: 8 }) });
 * await db.close();
 * ```
 * @since 0.1.0
 */
export function leveledCompaction(opts: LeveledCompactionOptions = {}): CompactionStrategy {
  const l0Trigger = opts.l0Trigger ?? 4;
  const base = opts.baseLevelBytes ?? 64 * 1024 * 1024;
  const mult = opts.multiplier ?? 10;
  const target = opts.targetTableBytes ?? 16 * 1024 * 1024;
  return {
    name: 'leveled',
    pick(v: VersionView): CompactionJob | undefined {
      const free = (t: TableInfo) => !v.busy.has(t.id);
      const l0 = v.levels[0] ?? [];
      if (l0.length >= l0Trigger && l0.every(free)) {
        let lo = l0[0]!.smallest;
        let hi = l0[0]!.largest;
        for (const t of l0) {
          if (compareBytes(t.smallest, lo) < 0) lo = t.smallest;
          if (compareBytes(t.largest, hi) > 0) hi = t.largest;
        }
        const l1 = (v.levels[1] ?? []).filter((t) => overlaps(t, lo, hi));
        if (l1.every(free)) return { inputs: [...l0, ...l1].map((t) => t.id), outputLevel: 1, targetTableBytes: target };
      }
      for (let level = 1; level < v.maxLevels - 1; level++) {
        const tables = v.levels[level] ?? [];
        const bytes = tables.reduce((s, t) => s + t.size, 0);
        if (bytes <= base * mult ** (level - 1)) continue;
        const cands = tables.filter(free).sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
        for (const t of cands) {
          const next = (v.levels[level + 1] ?? []).filter((u) => overlaps(u, t.smallest, t.largest));
          if (next.every(free)) return { inputs: [t.id, ...next.map((u) => u.id)], outputLevel: level + 1, targetTableBytes: target };
        }
      }
      return undefined;
    },
  };
}
