/**
 * End-to-end ingest from a real log: points are produced into 8 partitions (100 points per record), then
 * one node (all partitions, 2 shards) drains them, flushing with its offsets every second. The peer is the
 * same log drained raw (read + decode, nothing applied): the ceiling the log itself sets. A second phase
 * produces and consumes at once and measures how long the node needs to catch up once the producer stops.
 */
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { createLogNode, decodePointBatch, encodePoints, openShardedTsdb, partitionFor, seriesKey, type LogSource, type Point } from '@dataplane/lsm';
import { createRedisLog } from '@dataplane/lsm/redis';
import { createJetStreamLog } from '@dataplane/lsm/nats';
import type { BenchCase, BenchContext } from '@dataplane/bench';

const PARTITIONS = 8;
const PER_RECORD = 100;

function records(from: number, points: number): Map<number, Uint8Array[]> {
  const byPart = new Map<number, Point[]>();
  const out = new Map<number, Uint8Array[]>();
  for (let i = from; i < from + points; i++) {
    const p: Point = { metric: 'cpu', tags: { host: `h${i % 1000}` }, t: i, v: i % 100 };
    const part = partitionFor(seriesKey(p.metric, p.tags), PARTITIONS);
    const list = byPart.get(part) ?? [];
    list.push(p);
    if (list.length === PER_RECORD) {
      out.set(part, [...(out.get(part) ?? []), encodePoints(list)]);
      byPart.set(part, []);
    } else byPart.set(part, list);
  }
  for (const [part, list] of byPart) if (list.length > 0) out.set(part, [...(out.get(part) ?? []), encodePoints(list)]);
  return out;
}

async function produceAll(log: LogSource, recs: Map<number, Uint8Array[]>) {
  await Promise.all(
    [...recs].map(async ([p, vals]) => {
      for (let i = 0; i < vals.length; i += 500) await log.produce(p, vals.slice(i, i + 500));
    }),
  );
}

async function waitCaughtUp(log: LogSource, node: ReturnType<typeof createLogNode>) {
  const ends = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => log.endOffset(p)));
  for (;;) {
    const st = node.stats().partitions;
    if (ends.every((e, p) => e === undefined || st[p]?.applied === e.toString())) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function runCase(ctx: BenchContext, name: string, make: () => Promise<{ log: LogSource; done: () => Promise<void> }>) {
  const points = ctx.quick ? 200_000 : 1_000_000;
  const { log, done } = await make();
  try {
    await log.start();
    const recs = records(0, points);
    const p0 = performance.now();
    await produceAll(log, recs);
    const produceRate = (points / (performance.now() - p0)) * 1000;

    // peer: raw drain
    const r0 = performance.now();
    let raw = 0;
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, p) => {
        for await (const b of log.consume(p, { follow: false, maxBatch: 500 })) for (const r of b.records) raw += decodePointBatch(r.value).length;
      }),
    );
    const rawRate = (raw / (performance.now() - r0)) * 1000;

    // ours: node applying into 2 shards with offsets stored at each flush
    await using store = await openShardedTsdb({ dir: ctx.tmpDir('log-ingest-'), shards: 2, maxInFlightWrites: 1024 });
    const node = createLogNode({ log, partitions: Array.from({ length: PARTITIONS }, (_, p) => p), store, flushEveryMs: 1000, maxBatch: 500, pollMs: 100 });
    const n0 = performance.now();
    await node.start();
    await waitCaughtUp(log, node);
    const nodeRate = (points / (performance.now() - n0)) * 1000;

    // live phase: produce while the node consumes; catch-up time after the producer stops
    const live = ctx.quick ? 100_000 : 300_000;
    await produceAll(log, records(points, live));
    const c0 = performance.now();
    await waitCaughtUp(log, node);
    const catchUpMs = performance.now() - c0;
    await node.close();
    const notes = {
      points,
      pointsPerRecord: PER_RECORD,
      partitions: PARTITIONS,
      shards: 2,
      producePointsPerSec: Math.round(produceRate),
      livePoints: live,
      durability: 'node: fsync per flush (1 s) with offsets; log: server default',
      machine: '2 cores shared with concurrent work (log server on the same machine)',
    };
    ctx.report({ case: name, metric: 'end-to-end ingest', unit: 'points/s', higherIsBetter: true, ours: nodeRate, peers: { 'raw drain (no apply)': rawRate }, notes });
    ctx.report({ case: name, metric: 'catch-up after a live burst', unit: 'ms', higherIsBetter: false, ours: catchUpMs, peers: {}, notes });
  } finally {
    await log.destroy().catch(() => undefined);
    await log.close();
    await done();
  }
}

export const logIngestRedis: BenchCase = {
  name: 'log-ingest-redis',
  run: (ctx) =>
    runCase(ctx, 'log-ingest-redis', async () => {
      const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      const log = createRedisLog({ client, topic: `bench${Date.now()}`, partitions: PARTITIONS, keyPrefix: 'lsm-bench:' });
      return { log, done: async () => void (await client.quit()) };
    }),
};

export const logIngestNats: BenchCase = {
  name: 'log-ingest-nats',
  run: (ctx) =>
    runCase(ctx, 'log-ingest-nats', async () => {
      const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
      const log = createJetStreamLog({ connection: nc, topic: `bench_${Date.now()}`, partitions: PARTITIONS });
      return { log, done: () => nc.drain() };
    }),
};
