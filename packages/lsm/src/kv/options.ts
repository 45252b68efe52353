/** Option validation and defaults of {@link openDb}. Internal. */
import { LsmError } from '../errors.js';
import { leveledCompaction } from './leveled.js';
import type { CompactionStrategy, DbOptions } from './types.js';
import type { WalSync } from './wal.js';

export const MiB = 1024 * 1024;
export const MAX_KEY = 16 * 1024;
export const MAX_VALUE = 256 * MiB;

export interface Resolved {
  memtableBytes: number;
  arenaSlabBytes: number;
  wal: { sync: WalSync; intervalMs: number } | false;
  blockBytes: number;
  bloomBitsPerKey: number;
  blockCacheBytes: number;
  compaction: CompactionStrategy;
  timeRange: DbOptions['timeRange'];
  salvage: boolean;
  l0Slowdown: number;
  l0Stop: number;
  clock: () => number;
  random: () => number;
}

function posInt(v: unknown, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function resolveOptions(o: DbOptions): Resolved {
  if (typeof o !== 'object' || o === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'options must be an object');
  let wal: Resolved['wal'] = { sync: 'always', intervalMs: 100 };
  if (o.wal === false) wal = false;
  else if (o.wal !== undefined) {
    const sync = o.wal.sync ?? 'always';
    if (sync !== 'always' && sync !== 'interval' && sync !== 'never') throw new LsmError('LSM_INVALID_ARGUMENT', 'wal.sync must be always, interval or never');
    wal = { sync, intervalMs: posInt(o.wal.intervalMs, 'wal.intervalMs', 100, 1) };
  }
  const compaction = o.compaction ?? leveledCompaction();
  if (typeof compaction.pick !== 'function') throw new LsmError('LSM_INVALID_ARGUMENT', 'compaction must have a pick() function');
  const l0Slowdown = posInt(o.l0SlowdownTables, 'l0SlowdownTables', 8, 1);
  const slab = posInt(o.arenaSlabBytes, 'arenaSlabBytes', 2 * MiB, 64 * 1024, 8 * MiB);
  const mt = posInt(o.memtableBytes, 'memtableBytes', 8 * MiB, 4096);
  if (mt > slab * 2048) throw new LsmError('LSM_INVALID_ARGUMENT', 'memtableBytes may be at most 2048 arena slabs');
  return {
    memtableBytes: mt,
    arenaSlabBytes: slab,
    wal,
    blockBytes: posInt(o.blockBytes, 'blockBytes', 4096, 256, 4 * MiB),
    bloomBitsPerKey: posInt(o.bloomBitsPerKey, 'bloomBitsPerKey', 10, 0, 64),
    blockCacheBytes: posInt(o.blockCacheBytes, 'blockCacheBytes', 32 * MiB, 0),
    compaction,
    timeRange: o.timeRange,
    salvage: o.salvage === true,
    l0Slowdown,
    l0Stop: posInt(o.l0StopTables, 'l0StopTables', Math.max(16, l0Slowdown + 1), l0Slowdown + 1),
    clock: o.clock ?? Date.now,
    random: o.random ?? Math.random,
  };
}


export function tableName(id: number): string {
  return `${String(id).padStart(6, '0')}.sst`;
}
export function walName(n: number): string {
  return `${String(n).padStart(6, '0')}.log`;
}

