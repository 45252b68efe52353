import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LsmError } from '../errors.js';
import { decodePointBatch, type PointColumns } from './columnar.js';
import { aggregate, type PointQuery, type SeriesResult } from './query.js';
import { parseSeriesKey } from '../tsdb/series.js';

/**
 * What a shard needs from its storage: buffered writes, queries, and a flush that makes the buffered
 * points durable atomically with a set of metadata keys (the log offsets).
 *
 * @since 0.1.0
 */
export interface ShardStore {
  /**
   * Applies a batch (visible to queries once it resolves, durable at the next flush at the latest).
   * `meta` (the shard's new log offset) must become durable atomically with these points: a store that
   * may persist data before flush() (an engine flushing a full memtable) writes both in one batch.
   */
  write(cols: PointColumns, raw: Uint8Array, meta: ReadonlyMap<string, string>): void | Promise<void>;
  /** Evaluates a query (synchronously or not). */
  query(q: PointQuery): SeriesResult[] | Promise<SeriesResult[]>;
  /** Every series key. */
  keys(): string[];
  /** Makes every write so far durable together with `meta`, atomically. */
  flush(meta: ReadonlyMap<string, string>): Promise<void>;
  /** The metadata of the last durable flush. */
  meta(): ReadonlyMap<string, string>;
  /** Counters. */
  stats(): ShardStoreStats;
  close(): Promise<void>;
}

/** Counters of a {@link ShardStore}. */
export interface ShardStoreStats {
  series: number;
  points: number;
  unflushedPoints: number;
  segments: number;
  flushes: number;
}

const MAGIC = 0x4c53_4547; // 'LSEG'
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** @internal CRC-32 (IEEE). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Series {
  key: string;
  tags: Record<string, string>;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

const pad8 = (n: number) => (n + 7) & ~7;

/**
 * A small durable store: points live in memory, indexed by series; each flush writes one segment file
 * (all batches since the last flush + the metadata), written to a temporary name, fsynced, renamed and
 * the directory fsynced, so a flush is all-or-nothing. Opening replays the segments in order.
 *
 * @remarks
 * It keeps every point (no deduplication by timestamp), which makes double application visible. It is
 * the default store of a shard; the full engine (`openTsdb`) plugs in through the same {@link ShardStore}
 * seam.
 *
 * @param dir - the shard's directory (created).
 * @returns the opened store.
 * @throws LsmError `LSM_CORRUPT_BLOCK` when a segment fails its checksum; `LSM_IO` on file errors.
 * @internal
 */
export async function openSegmentStore(dir: string): Promise<ShardStore> {
  await mkdir(dir, { recursive: true });
  const names = (await readdir(dir)).sort();
  const series = new Map<string, Series>();
  const byMetric = new Map<string, Series[]>();
  let meta = new Map<string, string>();
  let pending: Uint8Array[] = [];
  let unflushed = 0;
  let points = 0;
  let seq = 0;
  let segments = 0;
  let flushes = 0;

  function seriesOf(key: string): Series {
    let s = series.get(key);
    if (s === undefined) {
      const { metric, tags } = parseSeriesKey(key);
      s = { key, tags, t: new Float64Array(16), v: new Float64Array(16), n: 0 };
      series.set(key, s);
      const list = byMetric.get(metric);
      if (list) list.push(s);
      else byMetric.set(metric, [s]);
    }
    return s;
  }

  function apply(cols: PointColumns) {
    const local = cols.keys.map(seriesOf);
    for (let i = 0; i < cols.length; i++) {
      const s = local[cols.idx[i]!]!;
      if (s.n === s.t.length) {
        const t = new Float64Array(s.n * 2);
        t.set(s.t);
        const v = new Float64Array(s.n * 2);
        v.set(s.v);
        s.t = t;
        s.v = v;
      }
      s.t[s.n] = cols.t[i]!;
      s.v[s.n] = cols.v[i]!;
      s.n++;
    }
    points += cols.length;
  }

  for (const name of names) {
    if (name.endsWith('.tmp')) {
      await rm(join(dir, name), { force: true });
      continue;
    }
    const m = /^seg-(\d+)\.seg$/.exec(name);
    if (!m) continue;
    seq = Math.max(seq, Number(m[1]));
    const file = await readFile(join(dir, name));
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 12 || dv.getUint32(0, true) !== MAGIC || crc32(bytes.subarray(0, bytes.length - 4)) !== dv.getUint32(bytes.length - 4, true)) {
      throw new LsmError('LSM_CORRUPT_BLOCK', `segment ${name} in ${dir} fails its checksum`);
    }
    const metaLen = dv.getUint32(4, true);
    meta = new Map(Object.entries(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + metaLen))) as Record<string, string>));
    let off = pad8(8 + metaLen);
    while (off < bytes.length - 4) {
      const len = dv.getUint32(off, true);
      off += 8;
      const copy = new Uint8Array(len);
      copy.set(bytes.subarray(off, off + len));
      apply(decodePointBatch(copy));
      off = pad8(off + len);
    }
    segments++;
  }

  return {
    write(cols, raw) {
      // Durable only at flush(), which stores the full metadata map: per-write metadata is not needed.
      apply(cols);
      pending.push(raw);
      unflushed += cols.length;
    },
    query(q) {
      const out: SeriesResult[] = [];
      for (const s of byMetric.get(q.metric) ?? []) {
        if (!matches(s, q)) continue;
        const idx: number[] = [];
        for (let i = 0; i < s.n; i++) {
          const t = s.t[i]!;
          if (t >= q.fromMs && t < q.toMs) idx.push(i);
        }
        if (idx.length === 0) continue;
        idx.sort((a, b) => s.t[a]! - s.t[b]! || a - b);
        const t = new Float64Array(idx.length);
        const v = new Float64Array(idx.length);
        for (let k = 0; k < idx.length; k++) {
          t[k] = s.t[idx[k]!]!;
          v[k] = s.v[idx[k]!]!;
        }
        if (q.stepMs === undefined) out.push({ key: s.key, t, v });
        else out.push({ key: s.key, ...aggregate(t, v, q.stepMs, q.agg ?? 'avg') });
      }
      return out;
    },
    async flush(newMeta) {
      const batches = pending;
      pending = [];
      const metaObj = Object.fromEntries(newMeta);
      const metaBytes = new TextEncoder().encode(JSON.stringify(metaObj));
      let size = pad8(8 + metaBytes.length);
      for (const b of batches) size = pad8(size + 8 + b.length);
      size += 4;
      const out = new Uint8Array(size);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, MAGIC, true);
      dv.setUint32(4, metaBytes.length, true);
      out.set(metaBytes, 8);
      let off = pad8(8 + metaBytes.length);
      for (const b of batches) {
        dv.setUint32(off, b.length, true);
        off += 8;
        out.set(b, off);
        off = pad8(off + b.length);
      }
      dv.setUint32(size - 4, crc32(out.subarray(0, size - 4)), true);
      const name = `seg-${String(++seq).padStart(10, '0')}`;
      const tmp = join(dir, `${name}.tmp`);
      try {
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(out);
          await fh.datasync();
        } finally {
          await fh.close();
        }
        await rename(tmp, join(dir, `${name}.seg`));
        const d = await open(dir, 'r');
        try {
          await d.sync();
        } finally {
          await d.close();
        }
      } catch (err) {
        pending = batches.concat(pending);
        throw new LsmError('LSM_IO', `flush of ${dir} failed: ${(err as Error).message}`, { cause: err, retryable: true });
      }
      meta = new Map(newMeta);
      for (const b of batches) unflushed -= new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(12, true);
      segments++;
      flushes++;
    },
    meta() {
      return meta;
    },
    keys() {
      return [...series.keys()];
    },
    stats() {
      return { series: series.size, points, unflushedPoints: unflushed, segments, flushes };
    },
    async close() {},
  };
}

function matches(s: Series, q: PointQuery): boolean {
  if (q.where === undefined) return true;
  for (const k in q.where) if (s.tags[k] !== q.where[k]) return false;
  return true;
}
