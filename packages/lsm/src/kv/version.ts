/** In-memory version of the tree: open tables with their info, levels and search order. Internal. */
import type { TableInfo } from './types.js';
import type { TableReader } from './table-reader.js';
import type { ManifestTable } from './manifest.js';
import { compareBytes } from '../internal/bytes.js';

export const MAX_LEVELS = 7;

export interface TableEntry {
  info: TableInfo;
  reader: TableReader;
  /** Iterators currently reading it. */
  refs: number;
  /** Removed from the version; delete the file when refs reach 0. */
  obsolete: boolean;
}

export function toManifest(t: TableInfo, blocks: number): ManifestTable {
  return {
    id: t.id,
    level: t.level,
    size: t.size,
    entries: t.entries,
    blocks,
    smallest: Buffer.from(t.smallest).toString('hex'),
    largest: Buffer.from(t.largest).toString('hex'),
    minSeq: t.minSeq,
    maxSeq: t.maxSeq,
    minTime: t.minTime ?? null,
    maxTime: t.maxTime ?? null,
    createdAt: t.createdAt,
  };
}

/** Levels (L0 newest first, others by smallest key) and the get search order (maxSeq desc). */
export function buildLevels(tables: Iterable<TableEntry>): { levels: TableEntry[][]; order: TableEntry[] } {
  const levels: TableEntry[][] = Array.from({ length: MAX_LEVELS }, () => []);
  const order: TableEntry[] = [];
  for (const t of tables) {
    levels[t.info.level]!.push(t);
    order.push(t);
  }
  levels[0]!.sort((a, b) => b.info.maxSeq - a.info.maxSeq || b.info.id - a.info.id);
  for (let i = 1; i < MAX_LEVELS; i++) levels[i]!.sort((a, b) => compareBytes(a.info.smallest, b.info.smallest));
  order.sort((a, b) => b.info.maxSeq - a.info.maxSeq);
  return { levels, order };
}
