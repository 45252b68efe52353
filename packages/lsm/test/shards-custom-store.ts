/** A tiny in-memory ShardStore loaded by shards-sharded-tsdb.test.ts through `storeModule`. Not durable. */
import type { PointQuery, SeriesResult, ShardStore } from '../src/index.js';

export async function openShardStore(_dir: string): Promise<ShardStore> {
  const rows: { key: string; t: number; v: number }[] = [];
  let meta = new Map<string, string>();
  let flushes = 0;
  return {
    write(cols) {
      for (let i = 0; i < cols.length; i++) rows.push({ key: cols.keys[cols.idx[i]!]!, t: cols.t[i]!, v: cols.v[i]! * 10 });
    },
    async query(q: PointQuery): Promise<SeriesResult[]> {
      const by = new Map<string, { t: number[]; v: number[] }>();
      for (const r of rows) {
        if (!r.key.startsWith(`${q.metric}{`) || r.t < q.fromMs || r.t >= q.toMs) continue;
        const s = by.get(r.key) ?? { t: [], v: [] };
        s.t.push(r.t);
        s.v.push(r.v);
        by.set(r.key, s);
      }
      return [...by].map(([key, s]) => ({ key, t: Float64Array.from(s.t), v: Float64Array.from(s.v) }));
    },
    keys: () => [...new Set(rows.map((r) => r.key))],
    async flush(m) {
      meta = new Map(m);
      flushes++;
    },
    meta: () => meta,
    stats: () => ({ series: new Set(rows.map((r) => r.key)).size, points: rows.length, unflushedPoints: 0, segments: 0, flushes }),
    async close() {},
  };
}
