/**
 * Model-based test of one shard (store + applied log offsets) across writes, replays, flushes and crashes
 * (reopen without flush): what a query returns always equals the reference model, and a crash returns
 * exactly to the last flush, data and offsets together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { encodePoints } from '@dataplane/lsm';
import { ShardHost } from '../src/shards/shard-host.js';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 25);

interface State {
  points: number[]; // values applied (volatile view)
  applied: Map<number, bigint>;
  durablePoints: number[];
  durableApplied: Map<number, bigint>;
}
interface Real {
  host: ShardHost;
  dir: string;
}

let nextValue = 0;

class Write implements fc.AsyncCommand<State, Real> {
  constructor(
    readonly partition: number,
    readonly step: number, // offset = applied + step; step <= 0 is a replay
    readonly n: number,
  ) {}
  check() {
    return true;
  }
  async run(m: State, r: Real) {
    const at = m.applied.get(this.partition) ?? 0n;
    const offset = at + BigInt(this.step) < 1n ? 1n : at + BigInt(this.step);
    const values = Array.from({ length: this.n }, () => nextValue++);
    const applied = await r.host.write(encodePoints(values.map((v) => ({ metric: 'm', tags: { s: `s${v % 3}` }, t: v, v }))).buffer as ArrayBuffer, {
      partition: this.partition,
      offset,
    });
    const expected = !(m.applied.has(this.partition) && offset <= at);
    expect(applied).toBe(expected);
    if (expected) {
      m.points.push(...values);
      m.applied.set(this.partition, offset);
    }
    expect(r.host.offsets()).toEqual(m.applied);
  }
  toString() {
    return `write(p${this.partition}, +${this.step}, ${this.n})`;
  }
}

class Flush implements fc.AsyncCommand<State, Real> {
  check() {
    return true;
  }
  async run(m: State, r: Real) {
    await r.host.flush();
    m.durablePoints = [...m.points];
    m.durableApplied = new Map(m.applied);
    expect(r.host.durableOffsets()).toEqual(m.durableApplied);
  }
  toString() {
    return 'flush';
  }
}

class Crash implements fc.AsyncCommand<State, Real> {
  constructor(readonly store: 'segment' | 'kv') {}
  check() {
    return true;
  }
  async run(m: State, r: Real) {
    await r.host.close();
    r.host = await ShardHost.open({ dir: r.dir, shard: 0, store: this.store });
    if (this.store === 'kv') {
      // the engine flushes its memtable on close: a clean close keeps everything (SIGKILL is tested in log-crash)
      m.durablePoints = [...m.points];
      m.durableApplied = new Map(m.applied);
    }
    m.points = [...m.durablePoints];
    m.applied = new Map(m.durableApplied);
    expect(r.host.offsets()).toEqual(m.applied);
  }
  toString() {
    return `crash+reopen(${this.store})`;
  }
}

class Query implements fc.AsyncCommand<State, Real> {
  check() {
    return true;
  }
  async run(m: State, r: Real) {
    const got = (await r.host.query({ metric: 'm', fromMs: -1, toMs: Number.MAX_SAFE_INTEGER })).flatMap((x) => Array.from(x.v));
    expect(got.sort((a, b) => a - b)).toEqual([...m.points].sort((a, b) => a - b));
  }
  toString() {
    return 'query';
  }
}

it.each(['segment', 'kv'] as const)('a shard (%s store) matches its model across writes, replays, flushes and crashes', async (store) => {
  await fc.assert(
    fc.asyncProperty(
      fc.commands(
        [
          fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -3, max: 5 }), fc.integer({ min: 0, max: 20 })).map(([p, s, n]) => new Write(p, s, n)),
          fc.constant(new Flush()),
          fc.constant(new Crash(store)),
          fc.constant(new Query()),
        ],
        { maxCommands: 40 },
      ),
      async (cmds) => {
        const dir = mkdtempSync(join(tmpdir(), 'lsm-shard-model-'));
        const real: Real = { dir, host: await ShardHost.open({ dir, shard: 0, store }) };
        try {
          await fc.asyncModelRun(() => ({ model: { points: [], applied: new Map(), durablePoints: [], durableApplied: new Map() }, real }), [...cmds, new Query()]);
        } finally {
          await real.host.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns },
  );
});
