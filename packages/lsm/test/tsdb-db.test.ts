import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTsbsCpuOnly, LsmError, openTsdb, timeWindowCompaction, tsbsHosts, type TsdbPoint, type TsdbQuery, type TsdbSeries, type Tsdb } from '@dataplane/lsm';

const root = mkdtempSync(join(tmpdir(), 'lsm-tsdb-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `db-${n++}`);
const H = 3_600_000;

async function all(db: Tsdb, q: TsdbQuery): Promise<TsdbSeries[]> {
  const out: TsdbSeries[] = [];
  for await (const s of db.query(q)) out.push(s);
  return out;
}

async function seed(db: Tsdb): Promise<void> {
  const pts: TsdbPoint[] = [];
  const hosts: Record<string, string>[] = [
    { host: 'a', region: 'eu', env: 'prod' },
    { host: 'b', region: 'eu', env: 'dev' },
    { host: 'c', region: 'us', env: 'prod' },
    { host: 'd', region: 'us' },
  ];
  for (let i = 0; i < 4; i++) for (let t = 0; t < 10; t++) pts.push({ metric: 'cpu', tags: hosts[i], ts: t * 1000, value: i * 100 + t });
  await db.write(pts);
}

describe('tsdb', () => {
  it('selects with =, !=, =~, !~, exists, and/or/not', async () => {
    await using db = await openTsdb(fresh());
    await seed(db);
    const hostsOf = async (where: TsdbQuery['where']) => (await all(db, { metric: 'cpu', where, from: 0, to: 1e4 })).map((s) => s.tags['host']).sort();
    expect(await hostsOf({ tag: 'region', op: '=', value: 'eu' })).toEqual(['a', 'b']);
    expect(await hostsOf({ tag: 'region', op: '!=', value: 'eu' })).toEqual(['c', 'd']);
    expect(await hostsOf({ tag: 'host', op: '=~', value: '[ac]' })).toEqual(['a', 'c']);
    expect(await hostsOf({ tag: 'host', op: '!~', value: 'a|b' })).toEqual(['c', 'd']);
    expect(await hostsOf({ tag: 'env', op: 'exists' })).toEqual(['a', 'b', 'c']);
    expect(await hostsOf({ tag: 'env', op: '!exists' })).toEqual(['d']);
    expect(await hostsOf({ and: [{ tag: 'region', op: '=', value: 'us' }, { tag: 'env', op: '=', value: 'prod' }] })).toEqual(['c']);
    expect(await hostsOf({ or: [{ tag: 'host', op: '=', value: 'a' }, { tag: 'env', op: '=', value: 'dev' }] })).toEqual(['a', 'b']);
    expect(await hostsOf({ not: { tag: 'region', op: '=', value: 'us' } })).toEqual(['a', 'b']);
    expect(db.listMetrics()).toEqual(['cpu']);
    expect(db.tagKeys('cpu')).toEqual(['env', 'host', 'region']);
    expect(db.tagValues('cpu', 'region')).toEqual(['eu', 'us']);
    await expect(all(db, { metric: 'cpu', where: { tag: 'h', op: '=~', value: '(' }, from: 0, to: 1 })).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
  });

  it('aggregates per step, groups by tags, ranks top-k', async () => {
    await using db = await openTsdb(fresh());
    await seed(db);
    await db.flush();
    const a = await all(db, { metric: 'cpu', where: { tag: 'host', op: '=', value: 'b' }, from: 0, to: 1e4, step: 5000, agg: 'max' });
    expect(Array.from(a[0]!.ts)).toEqual([0, 5000]);
    expect(Array.from(a[0]!.values)).toEqual([104, 109]);
    const cnt = await all(db, { metric: 'cpu', from: 0, to: 1e4, step: 5000, agg: 'count', groupBy: ['region'] });
    expect(cnt.map((s) => [s.tags['region'], s.series, Array.from(s.values)])).toEqual([
      ['eu', 2, [10, 10]],
      ['us', 2, [10, 10]],
    ]);
    const avg = await all(db, { metric: 'cpu', from: 0, to: 1e4, agg: 'avg', groupBy: [] });
    expect(avg[0]!.values[0]).toBeCloseTo((0 + 100 + 200 + 300) / 4 + 4.5);
    const p = await all(db, { metric: 'cpu', where: { tag: 'host', op: '=', value: 'a' }, from: 0, to: 1e4, step: 1e4, agg: 'p90' });
    expect(p[0]!.values[0]).toBe(8);
    const rate = await all(db, { metric: 'cpu', where: { tag: 'host', op: '=', value: 'a' }, from: 0, to: 1e4, step: 1e4, agg: 'rate' });
    expect(rate[0]!.values[0]).toBe(1); // +1 per second
    const top = await all(db, { metric: 'cpu', from: 0, to: 1e4, step: 1e4, agg: 'max', topK: { k: 2 } });
    expect(top.map((s) => s.tags['host'])).toEqual(['d', 'c']);
    const last = [];
    for await (const lp of db.lastPoint({ metric: 'cpu', where: { tag: 'region', op: '=', value: 'eu' } })) last.push([lp.tags['host'], lp.ts, lp.value]);
    expect(last.sort()).toEqual([
      ['a', 9000, 9],
      ['b', 9000, 109],
    ]);
  });

  it('cuts step buckets at multiples of step even when from is not aligned', async () => {
    await using db = await openTsdb(fresh());
    await seed(db);
    await db.flush();
    // points of host b at 0..9 s: values 100..109; from = 3 s, step 5 s -> buckets [0,5) and [5,10)
    const a = await all(db, { metric: 'cpu', where: { tag: 'host', op: '=', value: 'b' }, from: 3000, to: 1e4, step: 5000, agg: 'min' });
    expect(Array.from(a[0]!.ts)).toEqual([0, 5000]);
    expect(Array.from(a[0]!.values)).toEqual([103, 105]);
    const g = await all(db, { metric: 'cpu', from: 3000, to: 9000, step: 5000, agg: 'count', groupBy: [] });
    expect(Array.from(g[0]!.ts)).toEqual([0, 5000]);
    expect(Array.from(g[0]!.values)).toEqual([8, 16]);
    // without a step, a grouped query is one bucket starting at from
    const one = await all(db, { metric: 'cpu', from: 3000, to: 9000, agg: 'count', groupBy: [] });
    expect(Array.from(one[0]!.ts)).toEqual([3000]);
    expect(Array.from(one[0]!.values)).toEqual([24]);
  });

  it('handles out-of-order and duplicate timestamps: the last write wins', async () => {
    await using db = await openTsdb(fresh(), { chunkWindowMs: 10_000, partitionMs: 10_000 });
    const m = { metric: 'm', tags: { k: 'v' } };
    await db.write([{ ...m, ts: 50_000, value: 1 }, { ...m, ts: 10_000, value: 2 }, { ...m, ts: 50_000, value: 3 }]);
    await db.flush();
    await db.write([{ ...m, ts: 10_000, value: 4 }, { ...m, ts: 5000, value: 5 }]);
    const r = await all(db, { ...m, from: 0, to: 1e6 });
    expect(Array.from(r[0]!.ts)).toEqual([5000, 10_000, 50_000]);
    expect(Array.from(r[0]!.values)).toEqual([5, 4, 3]);
    await db.flush();
    const r2 = await all(db, { ...m, from: 0, to: 1e6 });
    expect(Array.from(r2[0]!.values)).toEqual([5, 4, 3]);
  });

  it('replays the head log on reopen and rejects bad batches as a whole', async () => {
    const dir = fresh();
    let db = await openTsdb(dir);
    await db.write([{ metric: 'm', ts: 1, value: 1 }], { meta: [['offset', '7']] });
    await expect(db.write([{ metric: 'm', ts: 2, value: 2 }, { metric: 'm', ts: 1.5, value: 2 }])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.write([{ metric: '', ts: 2, value: 2 }])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await db.close();
    await expect(db.write([{ metric: 'm', ts: 3, value: 3 }])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_CLOSED'));
    db = await openTsdb(dir);
    const r = await all(db, { metric: 'm', from: 0, to: 10 });
    expect(Array.from(r[0]!.values)).toEqual([1]);
    expect(new TextDecoder().decode(await db.getMeta('offset'))).toBe('7');
    await db.close();
  });

  it('with wal: false, persists points and meta together at flush only', async () => {
    const dir = fresh();
    let db = await openTsdb(dir, { wal: false });
    await db.write([{ metric: 'm', ts: 1, value: 1 }], { meta: [['offset', '1']] });
    await db.flush();
    await db.write([{ metric: 'm', ts: 2, value: 2 }], { meta: [['offset', '2']] });
    expect(new TextDecoder().decode(await db.getMeta('offset'))).toBe('2');
    await db.close(); // no flush: the second write is not durable, nor its offset
    db = await openTsdb(dir, { wal: false });
    expect(new TextDecoder().decode(await db.getMeta('offset'))).toBe('1');
    expect(Array.from((await all(db, { metric: 'm', from: 0, to: 10 }))[0]!.values)).toEqual([1]);
    await db.close();
  });

  it('never opens tables outside the query range and drops whole windows for retention', async () => {
    let now = 5 * 24 * H; // retention cutoff: day 2
    const dir = fresh();
    const opts = {
      chunkWindowMs: H,
      partitionMs: 24 * H,
      compaction: timeWindowCompaction({ windowMs: 24 * H, minTables: 1 }),
      retentionMs: 3 * 24 * H,
      clock: () => now,
    };
    let db = await openTsdb(dir, opts);
    for (let day = 0; day < 6; day++) {
      const pts = [];
      for (let t = day * 24 * H; t < (day + 1) * 24 * H; t += 10 * 60_000) for (let h = 0; h < 20; h++) pts.push({ metric: 'm', tags: { h: `x${h}` }, ts: t, value: day });
      await db.write(pts);
      await db.flush();
    }
    for (let i = 0; i < 200 && db.stats().db.levels[0]!.tables > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(db.stats().db.levels[0]!.tables).toBe(0);
    const tables = db.stats().db.tables;
    expect(tables).toBeGreaterThanOrEqual(6);
    const before = db.stats().db.tablesPrunedByTime;
    const r = await all(db, { metric: 'm', from: 8 * 24 * H - 10, to: 8 * 24 * H + 1, step: H, agg: 'count' });
    expect(r).toEqual([]); // nothing there
    // 20 series, all keys of the metric: the chunk index (complete: every chunk was written by this
    // process) lists the chunks, and the engine multi-get skips the tables outside the range.
    const sel = { metric: 'm', from: 2 * 24 * H + 3 * H, to: 2 * 24 * H + 5 * H };
    let blooms = db.stats().db.bloomChecks;
    const q = await all(db, sel);
    expect(db.stats().db.bloomChecks).toBeGreaterThan(blooms); // point lookups, not a scan
    expect(q.length).toBe(20);
    expect(Array.from(q[0]!.values)).toEqual(new Array<number>(12).fill(2));
    // Only day 2's table (and no other chunk table) was read; the 5 other day tables were pruned.
    expect(db.stats().db.tablesPrunedByTime - before).toBeGreaterThanOrEqual(5);
    // After a reopen the index is not complete: the first query scans the metric's key range (only the
    // table time ranges can exclude days), the second looks the chunks it learnt up; both prune.
    await db.close();
    db = await openTsdb(dir, opts);
    for (let i = 0; i < 2; i++) {
      const b = db.stats().db.tablesPrunedByTime;
      blooms = db.stats().db.bloomChecks;
      const byId = (rs: typeof q) => [...rs].sort((x, y) => (String(x.id) < String(y.id) ? -1 : 1));
      expect(byId(await all(db, sel))).toEqual(byId(q));
      expect(db.stats().db.tablesPrunedByTime - b).toBeGreaterThanOrEqual(5);
      if (i === 0) expect(db.stats().db.bloomChecks).toBe(blooms); // the scan
      else expect(db.stats().db.bloomChecks).toBeGreaterThan(blooms); // the chunks it learnt, looked up
    }
    // a range that needs most of the series' known chunks: one scan of the metric, still pruned
    const b = db.stats().db.tablesPrunedByTime;
    blooms = db.stats().db.bloomChecks;
    const day = await all(db, { metric: 'm', from: 2 * 24 * H, to: 3 * 24 * H });
    expect(day.length).toBe(20);
    expect(Array.from(day[0]!.values)).toEqual(new Array<number>(144).fill(2));
    expect(db.stats().db.bloomChecks).toBe(blooms);
    expect(db.stats().db.tablesPrunedByTime - b).toBeGreaterThanOrEqual(5);
    now = 7 * 24 * H; // cutoff = day 4
    const dropped = await db.applyRetention();
    expect(dropped).toBe(4);
    const left = await all(db, { metric: 'm', where: { tag: 'h', op: '=', value: 'x3' }, from: 0, to: 10 * 24 * H, step: 24 * H, agg: 'last' });
    expect(Array.from(left[0]!.values)).toEqual([4, 5]);
    expect(db.tagValues('m', 'h')).toHaveLength(20);
    await db.close();
  });

  it('generates TSBS cpu-only data deterministically', () => {
    const a = [...generateTsbsCpuOnly({ hosts: 3, hours: 1, seed: 7 })];
    const b = [...generateTsbsCpuOnly({ hosts: 3, hours: 1, seed: 7 })];
    const c = [...generateTsbsCpuOnly({ hosts: 3, hours: 1, seed: 8 })];
    expect(a.reduce((s, x) => s + x.ts.length, 0)).toBe(3 * 10 * 360);
    expect(Array.from(a[0]!.values)).toEqual(Array.from(b[0]!.values));
    expect(Array.from(a[0]!.values)).not.toEqual(Array.from(c[0]!.values));
    expect(a[0]!.series.length).toBe(30);
    expect(Object.keys(tsbsHosts(1)[0]!).sort()).toEqual(['arch', 'datacenter', 'hostname', 'os', 'rack', 'region', 'service', 'service_environment', 'service_version', 'team']);
    for (const x of a[0]!.values) expect(x >= 0 && x <= 100 && Number.isInteger(x)).toBe(true);
  });

  it('stores TSBS integer data in about a byte per point', async () => {
    await using db = await openTsdb(fresh(), { wal: false });
    let pts = 0;
    for (const b of generateTsbsCpuOnly({ hosts: 5, hours: 6 })) {
      await db.write(b);
      pts += b.ts.length;
    }
    await db.flush();
    expect(db.stats().chunkBytesWritten / pts).toBeLessThan(1.5);
    const r = await all(db, { metric: 'cpu_usage_user', where: { tag: 'hostname', op: '=', value: 'host_1' }, from: 0, to: Date.UTC(2017, 0, 1) });
    expect(r[0]!.ts.length).toBe(6 * 360);
  });
});
