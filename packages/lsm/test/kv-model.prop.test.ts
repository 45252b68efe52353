/**
 * Model-based test: random interleavings of put/del/batch/get/getMany/flush/compact/reopen/iterate/snapshot against a
 * Map reference. FC_NUM_RUNS sets the number of runs (default 60).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, textOf, type Db } from '@dataplane/lsm';

const root = mkdtempSync(join(tmpdir(), 'lsm-kv-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Real {
  db: Db;
  dir: string;
}
type Model = Map<string, string>;

const keyArb = fc.stringMatching(/^[a-e]{1,3}$/);
const valArb = fc.string({ maxLength: 40 });
const opts = { memtableBytes: 4096, arenaSlabBytes: 64 * 1024, blockBytes: 256, wal: { sync: 'never' as const } };

function sortedEntries(m: Model): [string, string][] {
  return [...m.entries()].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
}

class PutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: string, readonly v: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.put(this.k, this.v);
    m.set(this.k, this.v);
  }
  toString = () => `put(${this.k},${JSON.stringify(this.v)})`;
}
class DelCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await r.db.del(this.k);
    m.delete(this.k);
  }
  toString = () => `del(${this.k})`;
}
class BatchCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ops: { k: string; v: string | undefined }[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const b = r.db.batch();
    for (const o of this.ops) if (o.v === undefined) b.del(o.k); else b.put(o.k, o.v);
    await b.write();
    for (const o of this.ops) if (o.v === undefined) m.delete(o.k); else m.set(o.k, o.v);
  }
  toString = () => `batch(${JSON.stringify(this.ops)})`;
}
class GetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const v = await r.db.get(this.k);
    expect(v === undefined ? undefined : textOf(v)).toBe(m.get(this.k));
  }
  toString = () => `get(${this.k})`;
}
class FlushCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.flush();
  }
  toString = () => 'flush';
}
class CompactCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly lo: string | undefined, readonly hi: string | undefined) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.compactRange(this.lo, this.hi);
  }
  toString = () => `compact(${this.lo},${this.hi})`;
}
class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.db.close();
    r.db = await openDb(r.dir, opts);
  }
  toString = () => 'reopen';
}
class IterCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly lo: string | undefined, readonly hi: string | undefined, readonly incl: boolean, readonly reverse: boolean, readonly limit: number | undefined) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const o: Record<string, unknown> = { reverse: this.reverse, limit: this.limit };
    if (this.lo !== undefined) o[this.incl ? 'gte' : 'gt'] = this.lo;
    if (this.hi !== undefined) o[this.incl ? 'lte' : 'lt'] = this.hi;
    const got: [string, string][] = [];
    for await (const [k, v] of r.db.iterator(o)) got.push([textOf(k), textOf(v)]);
    let want = sortedEntries(m).filter(([k]) => {
      const b = Buffer.from(k);
      if (this.lo !== undefined) {
        const c = Buffer.compare(b, Buffer.from(this.lo));
        if (this.incl ? c < 0 : c <= 0) return false;
      }
      if (this.hi !== undefined) {
        const c = Buffer.compare(b, Buffer.from(this.hi));
        if (this.incl ? c > 0 : c >= 0) return false;
      }
      return true;
    });
    if (this.reverse) want = want.reverse();
    if (this.limit !== undefined) want = want.slice(0, this.limit);
    expect(got).toEqual(want);
  }
  toString = () => `iter(${this.lo},${this.hi},${this.incl},${this.reverse},${this.limit})`;
}
class GetManyCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ks: string[], readonly hinted: boolean) {}
  check = () => true;
  async run(m: Model, r: Real) {
    // no DbOptions.timeRange here: tables carry no time range, so a hint must never skip one
    const vs = await r.db.getMany(this.ks, this.hinted ? { timeRange: { min: 5, max: 6 } } : undefined);
    expect(vs.map((v) => (v === undefined ? undefined : textOf(v)))).toEqual(this.ks.map((k) => m.get(k)));
  }
  toString = () => `getMany(${JSON.stringify(this.ks)}${this.hinted ? ', hinted' : ''})`;
}
class SnapshotCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly k: string, readonly v: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const snap = r.db.snapshot();
    const before = sortedEntries(m);
    await r.db.put(this.k, this.v);
    await r.db.del(before[0]?.[0] ?? this.k);
    await r.db.flush();
    await r.db.compactRange();
    m.set(this.k, this.v);
    m.delete(before[0]?.[0] ?? this.k);
    const got: [string, string][] = [];
    for await (const [k, v] of r.db.iterator({ snapshot: snap })) got.push([textOf(k), textOf(v)]);
    snap.release();
    expect(got).toEqual(before);
  }
  toString = () => `snapshot+put(${this.k})`;
}

const commands = [
  fc.tuple(keyArb, valArb).map(([k, v]) => new PutCmd(k, v)),
  fc.tuple(keyArb, fc.string({ minLength: 200, maxLength: 600 })).map(([k, v]) => new PutCmd(k, v)),
  keyArb.map((k) => new DelCmd(k)),
  fc.array(fc.record({ k: keyArb, v: fc.option(valArb, { nil: undefined }) }), { minLength: 1, maxLength: 30 }).map((ops) => new BatchCmd(ops)),
  keyArb.map((k) => new GetCmd(k)),
  fc.tuple(fc.array(keyArb, { maxLength: 8 }), fc.boolean()).map(([ks, h]) => new GetManyCmd(ks, h)),
  fc.constant(new FlushCmd()),
  fc.tuple(fc.option(keyArb, { nil: undefined }), fc.option(keyArb, { nil: undefined })).map(([a, b]) => new CompactCmd(a, b)),
  fc.constant(new ReopenCmd()),
  fc.tuple(fc.option(keyArb, { nil: undefined }), fc.option(keyArb, { nil: undefined }), fc.boolean(), fc.boolean(), fc.option(fc.nat(10), { nil: undefined })).map(([a, b, i, rv, l]) => new IterCmd(a, b, i, rv, l)),
  fc.tuple(keyArb, valArb).map(([k, v]) => new SnapshotCmd(k, v)),
];

describe('kv engine vs Map model', () => {
  it('matches the model under random interleavings', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 80 }), async (cmds) => {
        const dir = join(root, `run-${run++}`);
        const real: Real = { db: await openDb(dir, opts), dir };
        try {
          await fc.asyncModelRun(() => ({ model: new Map(), real }), cmds);
          // final full check after a reopen
          await real.db.close();
          real.db = await openDb(dir, opts);
        } finally {
          await real.db.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 60) },
    );
  }, 240_000);
});
