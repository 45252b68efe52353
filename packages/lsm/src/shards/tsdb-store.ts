import { openTsdb } from '../tsdb/tsdb.js';
import type { Matcher } from '../tsdb/types.js';
import type { PointColumns } from './columnar.js';
import type { PointQuery, SeriesResult } from './query.js';
import type { ShardStore } from './segment-store.js';
import { parseSeriesKey, seriesKey } from '../tsdb/series.js';

const META_KEY = 'dataplane.shard.meta';
const dec = new TextDecoder();

/**
 * A shard store on the package's time-series layer (`openTsdb` with `wal: false`): Gorilla chunks, tag
 * index and time pruning per shard. The shard's metadata (its log offsets) is written with every batch
 * through `write(points, { meta })`, so it becomes durable atomically with the points at the next flush.
 *
 * @remarks
 * The time-series layer keeps one value per series and timestamp (a later write wins), so re-applying a
 * record cannot create visible duplicates; exactly-once still matters for counters and for correctness of
 * offsets, which this store keeps like the others.
 *
 * @param dir - the shard's directory.
 * @returns the store.
 * @internal
 */
export async function openTsdbShardStore(dir: string): Promise<ShardStore> {
  const db = await openTsdb(dir, { wal: false });
  const raw = await db.getMeta(META_KEY);
  const meta = new Map<string, string>(raw === undefined ? [] : Object.entries(JSON.parse(dec.decode(raw)) as Record<string, string>));
  let durable = new Map(meta);
  let points = 0;
  let unflushed = 0;
  let flushes = 0;
  const encodeMeta = () => JSON.stringify(Object.fromEntries(meta));

  return {
    async write(cols: PointColumns, _raw, newMeta) {
      for (const [k, v] of newMeta) meta.set(k, v);
      const series = cols.keys.map((k) => parseSeriesKey(k));
      await db.write({ series, seriesIndex: cols.idx, ts: cols.t, values: cols.v }, { meta: [[META_KEY, encodeMeta()]] });
      points += cols.length;
      unflushed += cols.length;
    },
    async query(q: PointQuery): Promise<SeriesResult[]> {
      const where: Matcher | undefined =
        q.where === undefined || Object.keys(q.where).length === 0
          ? undefined
          : { and: Object.entries(q.where).map(([tag, value]) => ({ tag, op: '=' as const, value })) };
      const out: SeriesResult[] = [];
      for await (const s of db.query({ metric: q.metric, where, from: q.fromMs, to: q.toMs, step: q.stepMs, agg: q.stepMs === undefined ? undefined : (q.agg ?? 'avg') })) {
        if (s.ts.length === 0) continue;
        out.push({ key: seriesKey(s.metric, s.tags), t: Float64Array.from(s.ts), v: Float64Array.from(s.values) });
      }
      return out;
    },
    keys() {
      return [];
    },
    async flush(newMeta) {
      for (const [k, v] of newMeta) meta.set(k, v);
      await db.write([], { meta: [[META_KEY, encodeMeta()]] });
      await db.flush();
      durable = new Map(meta);
      unflushed = 0;
      flushes++;
    },
    meta() {
      return durable;
    },
    stats() {
      return { series: db.stats().series, points, unflushedPoints: unflushed, segments: db.stats().db.tables, flushes };
    },
    async close() {
      await db.close();
    },
  };
}
