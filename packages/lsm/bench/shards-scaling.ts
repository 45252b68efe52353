/**
 * Shard scaling: ingest throughput and a full-scan query with 2 worker shards (ours) against 1 worker
 * shard (peer), same data, same process. Points arrive as packed columnar batches, as from a log.
 */
import { encodePoints, openShardedTsdb, type Point } from '@dataplane/lsm';
import type { BenchCase, BenchContext } from '@dataplane/bench';

async function ingest(ctx: BenchContext, shards: number, batches: Uint8Array[], points: number, store: 'segment' | 'kv' = 'segment', reps = 5) {
  await using db = await openShardedTsdb({ dir: ctx.tmpDir('shards-'), shards, maxInFlightWrites: 1024, store });
  const window = 8;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < batches.length; i++) {
    inflight.push(db.writeBatch(batches[i]!));
    if (inflight.length >= window) await inflight.shift();
    ctx.progress(`${shards} shard(s)`, i, batches.length);
  }
  await Promise.all(inflight);
  await db.flush();
  const ingestMs = performance.now() - t0;
  const q0 = performance.now();
  for (let r = 0; r < reps; r++) await db.query({ metric: 'cpu', fromMs: 0, toMs: points, stepMs: 60_000, agg: 'avg' });
  const queryMs = (performance.now() - q0) / reps;
  return { pointsPerSec: (points / ingestMs) * 1000, queryMs };
}

export const shardsScaling: BenchCase = {
  name: 'shards-scaling',
  async run(ctx) {
    const points = ctx.quick ? 400_000 : 2_000_000;
    const perBatch = 10_000;
    const series = 2000;
    const batches: Uint8Array[] = [];
    for (let i = 0; i < points; i += perBatch) {
      const ps: Point[] = [];
      for (let j = i; j < i + perBatch; j++) ps.push({ metric: 'cpu', tags: { host: `h${j % series}`, dc: `dc${j % 3}` }, t: j, v: (j * 7) % 100 });
      batches.push(encodePoints(ps));
    }
    const one = await ingest(ctx, 1, batches, points);
    const two = await ingest(ctx, 2, batches, points);
    const notes = { points, series, perBatch, cores: 2, machine: '2 cores shared with concurrent work', store: 'segment store, fsync per flush' };
    ctx.report({ metric: 'ingest', unit: 'points/s', higherIsBetter: true, ours: two.pointsPerSec, peers: { '1 shard': one.pointsPerSec }, notes });
    ctx.report({ metric: 'full-scan query (avg per 60 s, all series)', unit: 'ms', higherIsBetter: false, ours: two.queryMs, peers: { '1 shard': one.queryMs }, notes });
    // the same on the KV engine store (memtable arena, tables, block cache and compaction per shard)
    const kvBatches = batches.slice(0, ctx.quick ? 5 : Math.ceil(batches.length / 4));
    const kvPoints = kvBatches.length * perBatch;
    const kvOne = await ingest(ctx, 1, kvBatches, kvPoints, 'kv', ctx.quick ? 1 : 3);
    const kvTwo = await ingest(ctx, 2, kvBatches, kvPoints, 'kv', ctx.quick ? 1 : 3);
    const kvNotes = { ...notes, points: kvPoints, store: 'kv engine, wal: false, flush at end' };
    ctx.report({ metric: 'ingest (kv engine store)', unit: 'points/s', higherIsBetter: true, ours: kvTwo.pointsPerSec, peers: { '1 shard': kvOne.pointsPerSec }, notes: kvNotes });
    ctx.report({ metric: 'full-scan query (kv engine store)', unit: 'ms', higherIsBetter: false, ours: kvTwo.queryMs, peers: { '1 shard': kvOne.queryMs }, notes: kvNotes });
  },
};
