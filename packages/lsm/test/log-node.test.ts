import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assignPartitions,
  checkAssignment,
  createLogNode,
  createMemoryLog,
  createQueryRouter,
  decodePointBatch,
  encodePoints,
  LsmError,
  openShardedTsdb,
  partitionFor,
  seriesKey,
  type LogNodeStore,
  type LogPosition,
  type Point,
} from '@dataplane/lsm';

const dirs: string[] = [];
function tmp() {
  const d = mkdtempSync(join(tmpdir(), 'lsm-node-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const P = 4;
/** Produces `n` points, `perRecord` per record, each series to its own partition; value = point number. */
async function produce(log: ReturnType<typeof createMemoryLog>, from: number, n: number, perRecord = 10) {
  const byPart = new Map<number, Point[][]>();
  for (let i = from; i < from + n; i += perRecord) {
    for (let j = i; j < Math.min(from + n, i + perRecord); j++) {
      const p: Point = { metric: 'm', tags: { s: `s${j % 37}` }, t: j, v: j };
      const part = partitionFor(seriesKey(p.metric, p.tags), P);
      const recs = byPart.get(part) ?? [[]];
      if (recs[recs.length - 1]!.length >= perRecord) recs.push([]);
      recs[recs.length - 1]!.push(p);
      byPart.set(part, recs);
    }
  }
  for (const [part, recs] of byPart) await log.produce(part, recs.map((r) => encodePoints(r)));
}

async function waitFor(cond: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function countAll(query: (q: any) => Promise<{ key: string; v: Float64Array }[]>) {
  const rows = await query({ metric: 'm', fromMs: 0, toMs: 1e12 });
  const seen = new Map<number, number>();
  for (const r of rows) for (const v of r.v) seen.set(v, (seen.get(v) ?? 0) + 1);
  return seen;
}

describe('log node', () => {
  it('assignment helpers', () => {
    expect(assignPartitions(2, 5)).toEqual([
      [0, 2, 4],
      [1, 3],
    ]);
    expect(() => checkAssignment([[0], [0, 1]], 2)).toThrow(/owned by/);
    expect(() => checkAssignment([[0]], 2)).toThrow(/no owner/);
    expect(() => checkAssignment([[3]], 2)).toThrow(/out of range/);
  });

  it('two nodes apply their partitions; a restart without flush loses nothing and duplicates nothing; the router asks owners', async () => {
    const log = createMemoryLog({ partitions: P });
    const [a, b] = assignPartitions(2, P);
    const dirA = tmp();
    const dirB = tmp();
    let storeA = await openShardedTsdb({ dir: dirA, shards: 2 });
    const storeB = await openShardedTsdb({ dir: dirB, shards: 2 });
    let nodeA = createLogNode({ log, partitions: a!, store: storeA, flushEveryMs: 50, maxBatch: 7, pollMs: 20 });
    const nodeB = createLogNode({ log, partitions: b!, store: storeB, flushEveryMs: 50, pollMs: 20 });
    await Promise.all([nodeA.start(), nodeB.start(), nodeA.start()]);
    await produce(log, 0, 2000);
    const total = async () => {
      const [x, y] = await Promise.all([countAll((q) => nodeA.query(q)), countAll((q) => nodeB.query(q))]);
      return x.size + y.size;
    };
    await waitFor(async () => (await total()) === 2000);
    await waitFor(async () => nodeA.stats().flushes > 1);

    // crash-like stop of A: nothing flushed after this point survives
    await nodeA.close({ flush: false });
    await storeA.close();
    await produce(log, 2000, 1000);
    storeA = await openShardedTsdb({ dir: dirA, shards: 2 });
    nodeA = createLogNode({ log, partitions: a!, store: storeA, flushEveryMs: 50, maxBatch: 7, pollMs: 20 });
    await nodeA.start();
    const router = createQueryRouter({ partitions: P, nodes: [nodeA, nodeB] });
    await waitFor(async () => (await countAll((q) => router.query(q))).size === 3000);
    const counts = await countAll((q) => router.query(q));
    for (let i = 0; i < 3000; i++) expect(counts.get(i)).toBe(1);
    expect(nodeA.stats().partitions[a![0]!]!.resumedAfter).toBeDefined();
    expect([...(await nodeA.lag()).values()].every((l) => l === 0n)).toBe(true);

    // exact routing asks only the owner
    const tags = { s: 's5' };
    const owner = router.ownerOf('m', tags);
    const one = await router.query({ metric: 'm', where: tags, fromMs: 0, toMs: 1e12 }, { exact: true });
    expect(one).toHaveLength(1);
    expect([a, b][owner]).toContain(partitionFor(seriesKey('m', tags), P));
    await nodeA.close();
    await nodeB.close();
    await nodeB.close();
    await storeA.close();
    await storeB.close();
  });

  it('replays the zone between shards’ offsets one record at a time, so each shard skips exactly its own', async () => {
    const log = createMemoryLog({ partitions: 1 });
    for (let i = 1; i <= 10; i++) await log.produce(0, [encodePoints([{ metric: 'm', t: i, v: i }])]);
    await log.produce(0, [new Uint8Array([1, 2, 3])]); // record 11: malformed
    const shards = [
      { applied: 3n, got: [] as number[], positions: [] as bigint[] },
      { applied: 6n, got: [] as number[], positions: [] as bigint[] },
    ];
    const store: LogNodeStore = {
      async writeBatch(batches, { position }: { position: LogPosition }) {
        for (const s of shards) {
          if (position.offset <= s.applied) continue;
          for (const b of batches) s.got.push(...decodePointBatch(b).v);
          s.applied = position.offset;
          s.positions.push(position.offset);
        }
      },
      async flush() {},
      async offsets() {
        return shards.map((s) => new Map([[0, s.applied]]));
      },
      async query() {
        return [];
      },
    };
    const bad: bigint[] = [];
    const node = createLogNode({ log, partitions: [0], store, pollMs: 20, onBadRecord: (_p, r) => bad.push(r.offset) });
    await node.start();
    await waitFor(async () => shards[0]!.applied === 11n && shards[1]!.applied === 11n);
    await node.close();
    expect(shards[0]!.got).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(shards[1]!.got).toEqual([7, 8, 9, 10]);
    expect(shards[0]!.positions.slice(0, 3)).toEqual([4n, 5n, 6n]); // one write per record in the zone
    expect(bad).toEqual([11n]);
    expect(node.stats().partitions[0]).toMatchObject({ resumedAfter: '3', replayedRecords: 3, badRecords: 1 });
  });

  it('start(signal): an aborted signal refuses, a later abort stops the node without a flush', async () => {
    const log = createMemoryLog({ partitions: 1 });
    let flushes = 0;
    const store: LogNodeStore = {
      async writeBatch() {},
      async flush() {
        flushes++;
      },
      async offsets() {
        return [new Map()];
      },
      async query() {
        return [];
      },
    };
    const ac = new AbortController();
    ac.abort();
    await expect(createLogNode({ log, partitions: [0], store }).start(ac.signal)).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_ABORTED'));
    const ac2 = new AbortController();
    const node = createLogNode({ log, partitions: [0], store, flushEveryMs: 60_000 });
    await node.start(ac2.signal);
    expect(node.stats().running).toBe(true);
    ac2.abort();
    await node.close();
    expect(node.stats().running).toBe(false);
    expect(flushes).toBe(0);
  });

  it('validates options', () => {
    const log = createMemoryLog({ partitions: 2 });
    const store = {} as LogNodeStore;
    expect(() => createLogNode({ log, partitions: [2], store })).toThrow(LsmError);
    expect(() => createLogNode({ log, partitions: [], store })).toThrow(LsmError);
    expect(() => createLogNode({ log, partitions: [0, 0], store })).toThrow(LsmError);
    expect(() => createLogNode({ log, partitions: [0], store, flushEveryMs: 0 })).toThrow(LsmError);
  });
});
