import { openDb } from '../kv/db.js';
import type { Bytes, BatchOp, DbOptions } from '../kv/types.js';
import type { PointColumns } from './columnar.js';
import { aggregate, type PointQuery, type SeriesResult } from './query.js';
import type { ShardStore } from './segment-store.js';
import { parseSeriesKey } from '../tsdb/series.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const CHUNK = 0x63; // 'c'
const SERIES = 's\u0000';
const META = 'm\u0000';
const SEQ_KEY = `${META}\u0000seq`;

function chunkKey(series: string, seq: number): Uint8Array {
  const k = enc.encode(`c\u0000${series}\u0000`);
  const out = new Uint8Array(k.length + 8);
  out.set(k);
  new DataView(out.buffer).setBigUint64(k.length, BigInt(seq));
  return out;
}

/** Chunk value: u32 n, u32 pad, f64 tmin, f64 tmax, f64 t[n], f64 v[n]. */
function chunkValue(t: Float64Array, v: Float64Array, n: number): Uint8Array {
  const buf = new ArrayBuffer(24 + 16 * n);
  const dv = new DataView(buf);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (t[i]! < min) min = t[i]!;
    if (t[i]! > max) max = t[i]!;
  }
  dv.setUint32(0, n, true);
  dv.setFloat64(8, min, true);
  dv.setFloat64(16, max, true);
  new Float64Array(buf, 24, n).set(t.subarray(0, n));
  new Float64Array(buf, 24 + 8 * n, n).set(v.subarray(0, n));
  return new Uint8Array(buf);
}

function chunkTimeRange(key: Bytes, value: Bytes): readonly [number, number] | undefined {
  if (key[0] !== CHUNK || value.length < 24) return undefined;
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return [dv.getFloat64(8, true), dv.getFloat64(16, true)];
}

/**
 * A shard store on the package's KV engine (`openDb` with `wal: false`): each write is one atomic engine
 * batch holding the points, grouped per series into one chunk entry (time range in the table footers, so
 * queries skip tables outside their range), any new series, and the shard's log offset; the engine's
 * flush is one atomic manifest edit. So the shard's own engine, memtable arena and block cache, and its
 * offsets are never durable without their data, even when the engine flushes a full memtable by itself.
 *
 * @param dir - the shard's directory.
 * @param options - engine options (`wal` is forced to `false`).
 * @returns the store.
 * @throws LsmError from the engine (`LSM_LOCKED`, `LSM_CORRUPT_*`, `LSM_IO`).
 * @internal
 */
export async function openKvShardStore(dir: string, options: DbOptions = {}): Promise<ShardStore> {
  const db = await openDb(dir, { ...options, wal: false, timeRange: chunkTimeRange });
  const byMetric = new Map<string, Map<string, Record<string, string>>>();
  const meta = new Map<string, string>();
  let durableMeta = new Map<string, string>();
  let seq = 0;
  let points = 0;
  let unflushed = 0;
  let flushes = 0;

  function remember(key: string): boolean {
    const { metric, tags } = parseSeriesKey(key);
    let m = byMetric.get(metric);
    if (m === undefined) byMetric.set(metric, (m = new Map()));
    if (m.has(key)) return false;
    m.set(key, tags);
    return true;
  }

  for await (const [k] of db.iterator({ gte: SERIES, lt: 's\u0001' })) remember(dec.decode(k).slice(SERIES.length));
  for await (const [k, v] of db.iterator({ gte: META, lt: 'm\u0001' })) {
    const key = dec.decode(k).slice(META.length);
    if (key === '\u0000seq') seq = Number(dec.decode(v));
    else meta.set(key, dec.decode(v));
  }
  durableMeta = new Map(meta);

  return {
    async write(cols: PointColumns, _raw, newMeta) {
      // Group the batch's points by series: one chunk entry per series per batch. A dictionary may list a
      // series more than once (batches merged by the router), so group by key, not by dictionary index.
      const groupOf = new Map<string, number>();
      const groupKeys: string[] = [];
      const localGroup = new Uint32Array(cols.keys.length);
      cols.keys.forEach((key, k) => {
        let g = groupOf.get(key);
        if (g === undefined) {
          g = groupKeys.length;
          groupKeys.push(key);
          groupOf.set(key, g);
        }
        localGroup[k] = g;
      });
      const counts = new Uint32Array(groupKeys.length);
      for (let i = 0; i < cols.length; i++) counts[localGroup[cols.idx[i]!]!]!++;
      const ts = groupKeys.map((_, g) => new Float64Array(counts[g]!));
      const vs = groupKeys.map((_, g) => new Float64Array(counts[g]!));
      const fill = new Uint32Array(groupKeys.length);
      for (let i = 0; i < cols.length; i++) {
        const g = localGroup[cols.idx[i]!]!;
        ts[g]![fill[g]!] = cols.t[i]!;
        vs[g]![fill[g]!++] = cols.v[i]!;
      }
      const ops: BatchOp[] = [];
      const chunkSeq = ++seq;
      groupKeys.forEach((key, g) => {
        if (counts[g] === 0) return;
        if (remember(key)) ops.push({ type: 'put', key: `${SERIES}${key}`, value: '' });
        ops.push({ type: 'put', key: chunkKey(key, chunkSeq), value: chunkValue(ts[g]!, vs[g]!, counts[g]!) });
      });
      for (const [k, v] of newMeta) {
        meta.set(k, v);
        ops.push({ type: 'put', key: `${META}${k}`, value: v });
      }
      ops.push({ type: 'put', key: SEQ_KEY, value: String(chunkSeq) });
      await db.write(ops);
      points += cols.length;
      unflushed += cols.length;
    },
    async query(q: PointQuery): Promise<SeriesResult[]> {
      const out: SeriesResult[] = [];
      for (const [key, tags] of byMetric.get(q.metric) ?? []) {
        if (q.where !== undefined && Object.keys(q.where).some((k) => tags[k] !== q.where![k])) continue;
        const tl: number[] = [];
        const vl: number[] = [];
        const prefix = enc.encode(`c\u0000${key}\u0000`);
        const end = prefix.slice();
        end[end.length - 1] = 1;
        for await (const [, value] of db.iterator({ gte: prefix, lt: end, timeRange: { min: q.fromMs, max: q.toMs } })) {
          const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
          const n = dv.getUint32(0, true);
          if (dv.getFloat64(16, true) < q.fromMs || dv.getFloat64(8, true) >= q.toMs) continue;
          for (let i = 0; i < n; i++) {
            const t = dv.getFloat64(24 + 8 * i, true);
            if (t >= q.fromMs && t < q.toMs) {
              tl.push(t);
              vl.push(dv.getFloat64(24 + 8 * n + 8 * i, true));
            }
          }
        }
        if (tl.length === 0) continue;
        const order = tl.map((_, i) => i).sort((a, b) => tl[a]! - tl[b]! || a - b);
        const t = Float64Array.from(order, (i) => tl[i]!);
        const v = Float64Array.from(order, (i) => vl[i]!);
        out.push(q.stepMs === undefined ? { key, t, v } : { key, ...aggregate(t, v, q.stepMs, q.agg ?? 'avg') });
      }
      return out;
    },
    keys() {
      const out: string[] = [];
      for (const m of byMetric.values()) for (const k of m.keys()) out.push(k);
      return out;
    },
    async flush(newMeta) {
      const ops: BatchOp[] = [];
      for (const [k, v] of newMeta) {
        meta.set(k, v);
        ops.push({ type: 'put', key: `${META}${k}`, value: v });
      }
      if (ops.length > 0) await db.write(ops);
      await db.flush();
      durableMeta = new Map(meta);
      unflushed = 0;
      flushes++;
    },
    meta() {
      return durableMeta;
    },
    stats() {
      let series = 0;
      for (const m of byMetric.values()) series += m.size;
      return { series, points, unflushedPoints: unflushed, segments: db.stats().tables, flushes };
    },
    async close() {
      await db.close();
    },
  };
}
