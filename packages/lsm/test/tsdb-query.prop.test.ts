/**
 * Model-based test of the query paths: random writes (duplicates, out-of-order), flushes and reopens
 * (so chunks overlap, the chunk index is built from flushes or learnt after a reopen), then raw and
 * aggregated queries with value filters, grouping and every step aggregation, against a naive
 * in-memory reference. FC_NUM_RUNS sets the number of runs (default 25).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmError, decodeChunk, openTsdb, type Tsdb, type TsdbOptions, type ValueFilter } from '@dataplane/lsm';
import { CODEC_PACKED, CODEC_PACKED_SUM, encodeChunkUnchecked } from '../src/tsdb/chunk.js';
import { Scratch, packedDecodeUntil } from '../src/tsdb/query-scan.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-tsdb-query-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Model = Map<string, Map<number, number>>;
interface Real {
  db: Tsdb;
  dir: string;
  opts: TsdbOptions;
}

const HOSTS = ['a', 'b', 'c', 'd'];
const pairOf = (h: string): string => (h < 'c' ? 'ab' : 'cd');
const tsArb = fc.integer({ min: 0, max: 400 }).map((x) => x * 250);
// a small value domain, so that values often sit exactly on a filter bound
const valArb = fc.oneof(fc.integer({ min: -6, max: 6 }), fc.integer({ min: -600, max: 600 }).map((x) => x / 100));
const filterArb: fc.Arbitrary<ValueFilter | undefined> = fc.option(
  fc.record({ gt: fc.integer({ min: -6, max: 4 }), gte: fc.integer({ min: -6, max: 4 }), lt: fc.integer({ min: -4, max: 6 }), lte: fc.integer({ min: -4, max: 6 }) }, { requiredKeys: [] }),
  { nil: undefined },
);
type Agg = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'last' | 'p50';

function passes(f: ValueFilter | undefined, v: number): boolean {
  if (f === undefined) return true;
  return (f.gt === undefined || v > f.gt) && (f.gte === undefined || v >= f.gte) && (f.lt === undefined || v < f.lt) && (f.lte === undefined || v <= f.lte);
}

function ref(m: Model, h: string, from: number, to: number, f: ValueFilter | undefined): [number, number][] {
  return [...(m.get(h) ?? new Map<number, number>()).entries()].filter(([t, v]) => t >= from && t < to && passes(f, v)).sort((x, y) => x[0] - y[0]);
}

class WriteCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pts: { h: string; t: number; v: number }[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.write(this.pts.map((p) => ({ metric: 'cpu', tags: { host: p.h, pair: pairOf(p.h) }, ts: p.t, value: p.v })));
    for (const p of this.pts) {
      const s = m.get(p.h) ?? new Map<number, number>();
      s.set(p.t, p.v);
      m.set(p.h, s);
    }
  }
  toString = () => `write(${JSON.stringify(this.pts)})`;
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
    await r.db.close();
    r.db = await openTsdb(r.dir, r.opts);
  }
  toString = () => 'reopen';
}
class RawCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly hosts: string[],
    readonly from: number,
    readonly len: number,
    readonly filter: ValueFilter | undefined,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const got = new Map<string, [number, number][]>();
    const where = { tag: 'host', op: '=~' as const, value: this.hosts.join('|') || 'none' };
    for await (const s of r.db.query({ metric: 'cpu', where, from: this.from, to: this.from + this.len, valueFilter: this.filter })) {
      got.set(s.tags['host']!, Array.from(s.ts, (t, i) => [t, s.values[i]!]));
    }
    const want = new Map<string, [number, number][]>();
    for (const h of this.hosts) {
      const pts = ref(m, h, this.from, this.from + this.len, this.filter);
      if (pts.length > 0) want.set(h, pts);
    }
    expect(got).toEqual(want);
  }
  toString = () => `raw(${this.hosts.join('|')},${this.from},${this.len},${JSON.stringify(this.filter)})`;
}
class AggCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly agg: Agg,
    readonly step: number,
    readonly group: boolean,
    readonly from: number,
    readonly len: number,
    readonly filter: ValueFilter | undefined,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const to = this.from + this.len;
    const got = new Map<string, { series: number; rows: [number, number][] }>();
    for await (const s of r.db.query({ metric: 'cpu', from: this.from, to, step: this.step, agg: this.agg, groupBy: this.group ? ['pair'] : undefined, valueFilter: this.filter })) {
      got.set(this.group ? s.tags['pair']! : s.tags['host']!, { series: s.series, rows: Array.from(s.ts, (t, i) => [t, s.values[i]!]) });
    }
    const groups = new Map<string, { hosts: Set<string>; pts: [number, number][] }>();
    for (const h of HOSTS) {
      const pts = ref(m, h, this.from, to, this.filter);
      if (pts.length === 0) continue;
      const g = this.group ? pairOf(h) : h;
      const e = groups.get(g) ?? { hosts: new Set<string>(), pts: [] };
      e.hosts.add(h);
      e.pts.push(...pts);
      groups.set(g, e);
    }
    expect([...got.keys()].sort()).toEqual([...groups.keys()].sort());
    for (const [g, { hosts, pts }] of groups) {
      const b = new Map<number, [number, number][]>();
      for (const p of pts) {
        const k = Math.floor(p[0] / this.step) * this.step;
        b.set(k, [...(b.get(k) ?? []), p]);
      }
      const keys = [...b.keys()].sort((x, y) => x - y);
      const gr = got.get(g)!;
      expect(gr.series).toBe(hosts.size);
      expect(gr.rows.map((x) => x[0])).toEqual(keys);
      keys.forEach((k, i) => {
        const bp = b.get(k)!;
        const vs = bp.map((p) => p[1]);
        const v = gr.rows[i]![1];
        switch (this.agg) {
          case 'count':
            return expect(v).toBe(vs.length);
          case 'sum':
            return expect(v).toBeCloseTo(vs.reduce((x, y) => x + y, 0), 6);
          case 'avg':
            return expect(v).toBeCloseTo(vs.reduce((x, y) => x + y, 0) / vs.length, 6);
          case 'min':
            return expect(v).toBe(Math.min(...vs));
          case 'max':
            return expect(v).toBe(Math.max(...vs));
          case 'last': {
            // the value at the bucket's latest time (several series may share that time: any of theirs)
            const tmax = Math.max(...bp.map((p) => p[0]));
            return expect(bp.filter((p) => p[0] === tmax).map((p) => p[1])).toContain(v);
          }
          case 'p50': {
            const s = [...vs].sort((x, y) => x - y);
            return expect(v).toBe(s[Math.max(0, Math.ceil(0.5 * s.length) - 1)]);
          }
        }
      });
    }
  }
  toString = () => `agg(${this.agg},${this.step},${this.group},${this.from},${this.len},${JSON.stringify(this.filter)})`;
}

const commands = [
  fc.array(fc.record({ h: fc.constantFrom(...HOSTS), t: tsArb, v: valArb }), { minLength: 1, maxLength: 40 }).map((p) => new WriteCmd(p)),
  fc.constant(new FlushCmd()),
  fc.constant(new ReopenCmd()),
  fc.tuple(fc.subarray(HOSTS), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), filterArb).map(([h, f, l, vf]) => new RawCmd(h, f, l, vf)),
  fc
    .tuple(fc.constantFrom<Agg>('count', 'sum', 'min', 'max', 'avg', 'last', 'p50'), fc.constantFrom(1000, 7000, 50_000), fc.boolean(), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), filterArb)
    .map(([a, s, g, f, l, vf]) => new AggCmd(a, s, g, f, l, vf)),
];

describe('tsdb queries vs an in-memory model', () => {
  it('raw and aggregated queries with value filters match the model', async () => {
    let run = 0;
    // Small chunk windows and memtables so chunks overlap, tables and compactions happen in a short run.
    const opts: TsdbOptions = { chunkWindowMs: 10_000, partitionMs: 20_000, memtableBytes: 8192, headMaxPoints: 60, wal: { sync: 'never' } };
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: 'large' }), async (cmds) => {
        const dir = join(root, `run-${run++}`);
        const real: Real = { db: await openTsdb(dir, opts), dir, opts };
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

  it.each([
    ['4 (frame sums: skipped frames cost O(1))', CODEC_PACKED_SUM],
    ['3 (as earlier versions wrote it: skipped frames summed)', CODEC_PACKED],
  ] as const)('decodes the points of a packed chunk of codec %s in a time range exactly as the full decode does', (_name, codec) => {
    const chunkArb = fc
      .record({
        start: fc.integer({ min: -1e12, max: 1e12 }),
        gaps: fc.array(fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 100_000 })), { minLength: 0, maxLength: 700 }),
        scale: fc.constantFrom(1, 10, 100, 1000),
        ks: fc.array(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 701, maxLength: 701 }),
      })
      .map(({ start, gaps, scale, ks }) => {
        const ts = Float64Array.from([start, ...gaps.map((_, i) => start + gaps.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
        return { ts, vs: Float64Array.from(ts, (_, i) => ks[i]! / scale) };
      });
    const s = new Scratch();
    fc.assert(
      fc.property(chunkArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: -1, max: 1 }), fc.integer({ min: -1, max: 1 }), ({ ts, vs }, a, b, na, nb) => {
        const c = encodeChunkUnchecked(ts, vs, ts.length, true, codec);
        fc.pre(c[0] === codec); // the packed codec (the encoder may keep Gorilla when smaller)
        // bounds on, just before or just after a point's time (or past the last one)
        const bound = (x: number, nudge: number): number => {
          const i = Math.floor(x * ts.length);
          return (i < ts.length ? ts[i]! : ts[ts.length - 1]! + 1) + nudge;
        };
        const from = Math.min(bound(a, na), bound(b, nb));
        const to = Math.max(bound(a, na), bound(b, nb));
        const full = decodeChunk(c);
        const want = Array.from(full.ts).filter((t) => t < to).length;
        const first = Array.from(full.ts).filter((t) => t < from).length;
        const m = packedDecodeUntil(c, from, to, s);
        expect(m).toBe(Math.max(1, want));
        expect(Array.from(s.ts.subarray(0, want))).toEqual(Array.from(full.ts.subarray(0, want)));
        // values are exact from the first point >= from on
        expect(Array.from(s.vs.subarray(first, want))).toEqual(Array.from(full.vs.subarray(first, want)));
      }),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 25) * 4 },
    );
  });

  it('rejects a malformed value filter with LSM_INVALID_ARGUMENT', async () => {
    const db = await openTsdb(join(root, 'bad-filter'));
    try {
      await db.write([{ metric: 'm', ts: 0, value: 1 }]);
      for (const valueFilter of [null, 5, { gt: 'x' }, { gt: Number.NaN }, { above: 1 }]) {
        const run = async () => {
          for await (const s of db.query({ metric: 'm', from: 0, to: 10, valueFilter: valueFilter as ValueFilter })) void s;
        };
        await expect(run()).rejects.toSatisfy((e: unknown) => LsmError.is(e) && e.code === 'LSM_INVALID_ARGUMENT');
      }
    } finally {
      await db.close();
    }
  });

  it('keeps only the points that pass the filter, NaN never passing a bound', async () => {
    const db = await openTsdb(join(root, 'nan-filter'));
    try {
      await db.write([0, 1, 2, 3].map((i) => ({ metric: 'm', ts: i, value: [95, Number.NaN, 50, 91][i]! })));
      await db.flush();
      const got: number[][] = [];
      for await (const s of db.query({ metric: 'm', from: 0, to: 10, valueFilter: { gt: 90 } })) got.push(Array.from(s.ts), Array.from(s.values));
      expect(got).toEqual([
        [0, 3],
        [95, 91],
      ]);
      const none: unknown[] = [];
      for await (const s of db.query({ metric: 'm', from: 0, to: 10, step: 5, agg: 'count', valueFilter: { gt: 100 } })) none.push(s);
      expect(none).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
