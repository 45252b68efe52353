/**
 * Model-based test: random writes (object and columnar form; columnar batches reuse SeriesRef objects
 * that are re-pointed in place between writes), with duplicates, out-of-order points, flushes, reopens, raw and aggregated
 * queries and last points against a naive in-memory reference (Map of series -> Map of ts -> value,
 * last write wins). FC_NUM_RUNS sets the number of runs (default 25).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openTsdb, type SeriesRef, type Tsdb, type TsdbOptions } from '@dataplane/lsm';

const root = mkdtempSync(join(tmpdir(), 'lsm-tsdb-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Model = Map<string, Map<number, number>>;
interface Real {
  db: Tsdb;
  dir: string;
  opts: TsdbOptions;
  /** SeriesRef objects reused by every columnar write of a run, re-pointed in place between writes. */
  refs: { metric: string; tags: Record<string, string> }[];
}

const HOSTS = ['a', 'b', 'c', 'd'];
const hostArb = fc.constantFrom(...HOSTS);
const tsArb = fc.integer({ min: 0, max: 200 }).map((x) => x * 500);
const valArb = fc.oneof(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 10_000 }).map((x) => x / 100), fc.double({ noNaN: true, noDefaultInfinity: true }));

function ref(m: Model, hosts: readonly string[], from: number, to: number): Map<string, [number, number][]> {
  const out = new Map<string, [number, number][]>();
  for (const h of hosts) {
    const pts = [...(m.get(h) ?? new Map<number, number>()).entries()].filter(([t]) => t >= from && t < to).sort((x, y) => x[0] - y[0]);
    if (pts.length > 0) out.set(h, pts);
  }
  return out;
}

class WriteCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pts: { h: string; t: number; v: number }[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.write(this.pts.map((p) => ({ metric: 'cpu', tags: { host: p.h, pair: p.h < 'c' ? 'ab' : 'cd' }, ts: p.t, value: p.v })));
    for (const p of this.pts) {
      const s = m.get(p.h) ?? new Map<number, number>();
      s.set(p.t, p.v);
      m.set(p.h, s);
    }
  }
  toString = () => `write(${JSON.stringify(this.pts)})`;
}
/** A columnar batch over the run's shared SeriesRef objects, after re-pointing one of them in place. */
class ColumnarWriteCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pts: { k: number; t: number; v: number }[],
    readonly retarget: { k: number; h: string; how: 'mutate' | 'replace' } | undefined,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    if (this.retarget !== undefined) {
      const { k, h, how } = this.retarget;
      const tags = { host: h, pair: h < 'c' ? 'ab' : 'cd' };
      if (how === 'mutate') Object.assign(r.refs[k]!.tags, tags);
      else r.refs[k]!.tags = tags;
    }
    const n = this.pts.length;
    const batch = { series: r.refs as SeriesRef[], seriesIndex: new Uint32Array(n), ts: new Float64Array(n), values: new Float64Array(n) };
    this.pts.forEach((p, i) => {
      batch.seriesIndex[i] = p.k;
      batch.ts[i] = p.t;
      batch.values[i] = p.v;
    });
    await r.db.write(batch);
    for (const p of this.pts) {
      const h = r.refs[p.k]!.tags['host']!;
      const s = m.get(h) ?? new Map<number, number>();
      s.set(p.t, p.v);
      m.set(h, s);
    }
  }
  toString = () => `writeColumnar(${JSON.stringify(this.retarget)}, ${JSON.stringify(this.pts)})`;
}
class FlushCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.flush();
  }
  toString = () => 'flush';
}
class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    // Without a WAL only flushed data survives a reopen: flush first to keep the model exact.
    if (r.opts.wal === false) await r.db.flush();
    await r.db.close();
    r.db = await openTsdb(r.dir, r.opts);
  }
  toString = () => 'reopen';
}
class QueryCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly hosts: string[], readonly from: number, readonly len: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const got = new Map<string, [number, number][]>();
    const where = { tag: 'host', op: '=~' as const, value: this.hosts.join('|') || 'none' };
    for await (const s of r.db.query({ metric: 'cpu', where, from: this.from, to: this.from + this.len })) {
      got.set(s.tags['host']!, Array.from(s.ts, (t, i) => [t, s.values[i]!]));
    }
    expect(got).toEqual(ref(m, this.hosts, this.from, this.from + this.len));
  }
  toString = () => `query(${this.hosts.join('|')},${this.from},${this.len})`;
}
class AggCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly agg: 'sum' | 'count' | 'min' | 'max', readonly step: number, readonly group: boolean) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const from = 0;
    const to = 100_001;
    const got = new Map<string, [number, number][]>();
    for await (const s of r.db.query({ metric: 'cpu', from, to, step: this.step, agg: this.agg, groupBy: this.group ? ['pair'] : undefined })) {
      got.set(this.group ? s.tags['pair']! : s.tags['host']!, Array.from(s.ts, (t, i) => [t, s.values[i]!]));
    }
    const want = new Map<string, [number, number][]>();
    const raw = ref(m, HOSTS, from, to);
    const groups = new Map<string, [number, number][]>();
    for (const [h, pts] of raw) {
      const g = this.group ? (h < 'c' ? 'ab' : 'cd') : h;
      groups.set(g, [...(groups.get(g) ?? []), ...pts]);
    }
    for (const [g, pts] of groups) {
      const b = new Map<number, number[]>();
      for (const [t, v] of pts) {
        const k = Math.floor(t / this.step) * this.step;
        b.set(k, [...(b.get(k) ?? []), v]);
      }
      const rows = [...b.entries()].sort((x, y) => x[0] - y[0]).map(([k, vs]): [number, number] => {
        const red = this.agg === 'count' ? vs.length : this.agg === 'min' ? Math.min(...vs) : this.agg === 'max' ? Math.max(...vs) : vs.reduce((x, y) => x + y, 0);
        return [k, red];
      });
      want.set(g, rows);
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [g, rows] of want) {
      const gr = got.get(g)!;
      expect(gr.map((x) => x[0])).toEqual(rows.map((x) => x[0]));
      for (let i = 0; i < rows.length; i++) {
        if (this.agg === 'sum') expect(gr[i]![1]).toBeCloseTo(rows[i]![1], 6);
        else expect(gr[i]![1]).toBe(rows[i]![1]);
      }
    }
  }
  toString = () => `agg(${this.agg},${this.step},${this.group})`;
}
class LastCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const got = new Map<string, [number, number]>();
    for await (const p of r.db.lastPoint({ metric: 'cpu' })) got.set(p.tags['host']!, [p.ts, p.value]);
    const want = new Map<string, [number, number]>();
    for (const [h, pts] of ref(m, HOSTS, -Infinity, Infinity)) want.set(h, pts[pts.length - 1]!);
    expect(got).toEqual(want);
  }
  toString = () => 'lastPoint';
}

const commands = [
  fc.array(fc.record({ h: hostArb, t: tsArb, v: valArb }), { minLength: 1, maxLength: 40 }).map((p) => new WriteCmd(p)),
  fc
    .tuple(
      fc.array(fc.record({ k: fc.integer({ min: 0, max: 2 }), t: tsArb, v: valArb }), { minLength: 1, maxLength: 40 }),
      fc.option(fc.record({ k: fc.integer({ min: 0, max: 2 }), h: hostArb, how: fc.constantFrom('mutate' as const, 'replace' as const) }), { nil: undefined }),
    )
    .map(([p, re]) => new ColumnarWriteCmd(p, re)),
  fc.constant(new FlushCmd()),
  fc.constant(new ReopenCmd()),
  fc.tuple(fc.subarray(HOSTS), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 100_000 })).map(([h, f, l]) => new QueryCmd(h, f, l)),
  fc.tuple(fc.constantFrom('sum' as const, 'count' as const, 'min' as const, 'max' as const), fc.constantFrom(1000, 7000, 50_000), fc.boolean()).map(([a, s, g]) => new AggCmd(a, s, g)),
  fc.constant(new LastCmd()),
];

describe('tsdb vs an in-memory model', () => {
  for (const wal of [true, false]) {
    it(`matches the model (wal: ${wal})`, async () => {
      let run = 0;
      // Small chunk windows and memtables so chunks, tables and compactions all happen in a short run.
      const opts: TsdbOptions = { chunkWindowMs: 10_000, partitionMs: 20_000, memtableBytes: 8192, headMaxPoints: 60, wal: wal ? { sync: 'never' } : false };
      await fc.assert(
        fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
          const dir = join(root, `run-${wal}-${run++}`);
          const refs = ['a', 'b', 'c'].map((h) => ({ metric: 'cpu', tags: { host: h, pair: h < 'c' ? 'ab' : 'cd' } }));
          const real: Real = { db: await openTsdb(dir, opts), dir, opts, refs };
          try {
            await fc.asyncModelRun(() => ({ model: new Map(), real }), cmds);
          } finally {
            await real.db.close();
            rmSync(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: Number(process.env.FC_NUM_RUNS ?? 25) },
      );
    }, 240_000);
  }
});
