import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePoints, LsmError, openShardedTsdb, seriesKey, type Point } from '@dataplane/lsm';

const dirs: string[] = [];
function tmp() {
  const d = mkdtempSync(join(tmpdir(), 'lsm-shards-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function points(n: number, hosts = 20): Point[] {
  return Array.from({ length: n }, (_, i) => ({ metric: 'cpu', tags: { host: `h${i % hosts}`, dc: i % 2 ? 'eu' : 'us' }, t: 1000 + i, v: i }));
}

describe('openShardedTsdb', () => {
  it('spreads series over worker shards, fans queries out and merges them', async () => {
    await using db = await openShardedTsdb({ dir: tmp(), shards: 2 });
    expect(db.shards).toBe(2);
    const ps = points(1000);
    await db.write(ps.slice(0, 500));
    await db.writeBatch(encodePoints(ps.slice(500)));
    const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: 1e9 });
    expect(rows).toHaveLength(20);
    expect(rows.map((r) => r.key)).toEqual([...rows.map((r) => r.key)].sort());
    expect(rows.reduce((n, r) => n + r.t.length, 0)).toBe(1000);
    const h3 = rows.find((r) => r.key === seriesKey('cpu', { host: 'h3', dc: 'eu' }))!;
    expect(Array.from(h3.v)).toEqual(ps.filter((p) => p.tags!.host === 'h3').map((p) => p.v));
    const perShard = (await db.shardStats()).map((s) => s.series);
    expect(perShard.every((n) => n > 0)).toBe(true); // both shards own series
    expect(perShard[0]! + perShard[1]!).toBe(20);

    const agg = await db.query({ metric: 'cpu', where: { dc: 'us' }, fromMs: 1000, toMs: 1100, stepMs: 50, agg: 'sum' });
    const expected = new Map<string, number[]>();
    for (const p of ps) {
      if (p.tags!.dc !== 'us' || p.t >= 1100) continue;
      const k = seriesKey('cpu', p.tags);
      const arr = expected.get(k) ?? [0, 0];
      arr[Math.floor(p.t / 50) - 20]! += p.v;
      expected.set(k, arr);
    }
    expect(agg).toHaveLength(expected.size);
    for (const r of agg) {
      const e = expected.get(r.key)!;
      const got = Array.from(r.t).map((t, i) => [t, r.v[i]]);
      const want = e.flatMap((v, i) => (v === 0 && !ps.some((p) => seriesKey('cpu', p.tags) === r.key && Math.floor(p.t / 50) === 20 + i) ? [] : [[1000 + 50 * i, v]]));
      expect(got).toEqual(want);
    }
    expect(db.stats()).toMatchObject({ shards: 2, points: 1000, writes: 2, queries: 2 });
  });

  it.each(['segment', 'kv', 'tsdb'] as const)('%s store: keeps flushed points and log offsets across a reopen, drops unflushed ones, skips applied positions', async (store) => {
    const dir = tmp();
    {
      const db = await openShardedTsdb({ dir, shards: 2, store });
      await db.writeBatch(encodePoints(points(100)), { position: { partition: 3, offset: 10n } });
      await db.write(points(10), { position: { partition: 3, offset: 10n } }); // already applied: skipped
      await db.flush();
      await db.write(points(7), { position: { partition: 3, offset: 11n } }); // never flushed
      expect((await db.offsets()).map((m) => m.get(3))).toEqual([11n, 11n]);
      await db.close();
      await db.close();
    }
    await using db = await openShardedTsdb({ dir, shards: 2, store });
    // the segment and tsdb stores drop what was not flushed; the KV engine flushes its memtable on a clean close
    const closeKeeps = store === 'kv';
    expect((await db.offsets(true)).map((m) => m.get(3))).toEqual(closeKeeps ? [11n, 11n] : [10n, 10n]);
    const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: 1e9 });
    expect(rows.reduce((n, r) => n + r.t.length, 0)).toBe(closeKeeps ? 107 : 100);
    const agg = await db.query({ metric: 'cpu', where: { dc: 'eu' }, fromMs: 1000, toMs: 1050, stepMs: 10, agg: 'count' });
    expect(agg.reduce((n, r) => n + r.v.reduce((a, b) => a + b, 0), 0)).toBe(closeKeeps ? 28 : 25);
    const s = await db.shardStats();
    expect(s.reduce((n, x) => n + x.segments, 0)).toBeGreaterThanOrEqual(2);
  });

  it('refuses writes while a shard has too many batches in flight (admission control), then admits again', async () => {
    await using db = await openShardedTsdb({ dir: tmp(), shards: 1, maxInFlightWrites: 1 });
    const batch = () => encodePoints(points(2000));
    const results = await Promise.allSettled([db.writeBatch(batch()), db.writeBatch(batch()), db.writeBatch(batch())]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    const err = (refused[0] as PromiseRejectedResult).reason as LsmError;
    expect(LsmError.is(err, 'LSM_OVERLOADED')).toBe(true);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(db.stats().admission.gates.writeBacklog).toMatchObject({ refused: 1, trips: 1 });
    await db.writeBatch(batch()); // drained: admitted again
    const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: 1e9 });
    expect(rows.reduce((n, r) => n + r.t.length, 0)).toBe(6000);
  });

  it.each(['segment', 'kv', 'tsdb'] as const)('%s store: a write of several batches sharing series keeps every point', async (store) => {
    await using db = await openShardedTsdb({ dir: tmp(), shards: 2, store });
    const a = points(40, 4);
    const b = points(40, 4).map((p) => ({ ...p, t: p.t + 10_000 }));
    await db.writeBatch([encodePoints(a), encodePoints(b)], { position: { partition: 0, offset: 1n } });
    const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: 1e9 });
    expect(rows.reduce((n, r) => n + r.t.length, 0)).toBe(80);
  });

  it('runs each shard on a pluggable store (storeModule), loaded inside the workers', async () => {
    const storeModule = new URL('./shards-custom-store.ts', import.meta.url);
    await using db = await openShardedTsdb({ dir: tmp(), shards: 2, storeModule });
    await db.write(points(100));
    const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: 1e9 });
    expect(rows.reduce((n, r) => n + r.v.reduce((a, b) => a + b, 0), 0)).toBe(10 * points(100).reduce((a, p) => a + p.v, 0));
    await db.flush();
    expect((await db.shardStats()).map((s) => s.flushes)).toEqual([1, 1]);
    await expect(openShardedTsdb({ dir: tmp(), shards: 1, storeModule: new URL('./no-such-store.ts', import.meta.url) })).rejects.toSatisfy((e) =>
      LsmError.is(e, 'LSM_INVALID_ARGUMENT'),
    );
  });

  it('validates input and refuses with typed errors', async () => {
    await expect(openShardedTsdb({ dir: '', shards: 1 })).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(openShardedTsdb({ dir: tmp(), shards: 0 })).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    let closed = false;
    const db = await openShardedTsdb({ dir: tmp(), shards: 1, gates: [{ name: 'test', limit: 0, read: () => (closed ? 1 : 0), appliesTo: ['query'] }] });
    await expect(db.write([{ metric: 'a\u0000', t: 1, v: 1 }])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.write([{ metric: 'a', t: Number.NaN, v: 1 }])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.writeBatch(new Uint8Array(3))).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.query({ metric: 'a', fromMs: 0, toMs: 1, stepMs: -1 })).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await db.write([{ metric: 'a', t: 1, v: 1 }]);
    closed = true;
    const err = await db.query({ metric: 'a', fromMs: 0, toMs: 10 }).catch((e: unknown) => e);
    expect(LsmError.is(err, 'LSM_OVERLOADED')).toBe(true);
    expect((err as LsmError).retryable).toBe(true);
    expect(db.stats().admission.gates.test!.open).toBe(false);
    await db.write([{ metric: 'a', t: 2, v: 1 }]); // the gate applies to queries only
    const ac = new AbortController();
    ac.abort();
    await expect(db.write([{ metric: 'a', t: 3, v: 1 }], { signal: ac.signal })).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_ABORTED'));
    await db.close();
    await expect(db.write([])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_CLOSED'));
  });
});
