/**
 * Key-value engine benchmarks (issue 3): ours vs classic-level (LevelDB), lmdb (lmdb-js) and
 * better-sqlite3 on the same data in the same process. See bench/README.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Database from 'better-sqlite3';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';
import { dirSize, type BenchCase, type BenchContext } from '@dataplane/bench';
import { openDb, type Db } from '../src/index.js';
import { Memtable, KIND_PUT } from '../src/kv/memtable.js';

const KEY = 16;
const VAL = 100;
const BATCH = 1000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface Data {
  n: number;
  keys: Buffer; // n * KEY
  vals: Buffer; // n * VAL
}

function makeData(n: number, random: boolean): Data {
  const r = rng(random ? 42 : 7);
  const keys = Buffer.alloc(n * KEY);
  const vals = Buffer.alloc(n * VAL);
  for (let i = 0; i < n; i++) {
    if (random) for (let j = 0; j < KEY; j += 4) keys.writeUInt32BE(Math.floor(r() * 2 ** 32), i * KEY + j);
    else keys.writeUInt32BE(i, i * KEY + KEY - 4);
    for (let j = 0; j < VAL; j += 4) vals.writeUInt32LE(Math.floor(r() * 2 ** 32), i * VAL + j);
  }
  return { n, keys, vals };
}
const key = (d: Data, i: number) => d.keys.subarray(i * KEY, (i + 1) * KEY);
const val = (d: Data, i: number) => d.vals.subarray(i * VAL, (i + 1) * VAL);

/** Bytes written by write syscalls of this process (Linux /proc/self/io wchar). */
function wchar(): number {
  try {
    const m = /wchar:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Engine {
  name: string;
  durability: string;
  open(dir: string): Promise<void>;
  putBatch(d: Data, from: number, to: number): Promise<void>;
  get(k: Buffer): Promise<unknown>;
  scan(from: Buffer, n: number): Promise<number>;
  close(): Promise<void>;
}

function ours(): Engine {
  let db: Db;
  return {
    name: 'ours',
    durability: 'WAL written per batch, fsync never (OS page cache), like classic-level sync:false',
    async open(dir) {
      db = await openDb(dir, { wal: { sync: 'never' } });
    },
    async putBatch(d, from, to) {
      const b = db.batch();
      for (let i = from; i < to; i++) b.put(key(d, i), val(d, i));
      await b.write();
    },
    get: (k) => db.get(k),
    async scan(from, n) {
      let c = 0;
      for await (const _ of db.iterator({ gte: from, limit: n })) c++;
      return c;
    },
    async close() {
      await db.close();
    },
  };
}

function level(): Engine {
  let db: ClassicLevel<Uint8Array, Uint8Array>;
  return {
    name: 'classic-level',
    durability: 'LevelDB WAL, sync:false (default)',
    async open(dir) {
      db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
    },
    async putBatch(d, from, to) {
      const ops: { type: 'put'; key: Uint8Array; value: Uint8Array }[] = [];
      for (let i = from; i < to; i++) ops.push({ type: 'put', key: key(d, i), value: val(d, i) });
      await db.batch(ops);
    },
    get: (k) => db.get(k),
    async scan(from, n) {
      let c = 0;
      for await (const _ of db.iterator({ gte: from, limit: n })) c++;
      return c;
    },
    async close() {
      await db.close();
    },
  };
}

function lmdb(): Engine {
  let db: ReturnType<typeof openLmdb<Buffer, Buffer>>;
  return {
    name: 'lmdb',
    durability: 'LMDB default: fsync per transaction (batch)',
    async open(dir) {
      db = openLmdb<Buffer, Buffer>({ path: dir, encoding: 'binary', keyEncoding: 'binary' });
    },
    async putBatch(d, from, to) {
      await db.transaction(() => {
        for (let i = from; i < to; i++) void db.put(key(d, i), val(d, i));
      });
    },
    get: async (k) => db.getBinary(k),
    async scan(from, n) {
      let c = 0;
      for (const _ of db.getRange({ start: from, limit: n })) c++;
      return c;
    },
    async close() {
      await db.close();
    },
  };
}

function sqlite(): Engine {
  let db: Database.Database;
  let ins: Database.Statement;
  let sel: Database.Statement;
  let rng: Database.Statement;
  let tx: (d: Data, from: number, to: number) => void;
  return {
    name: 'better-sqlite3',
    durability: 'SQLite WAL mode, synchronous=NORMAL',
    async open(dir) {
      db = new Database(join(dir, 'db.sqlite'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID');
      ins = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
      sel = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
      rng = db.prepare('SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?').raw();
      tx = db.transaction((d: Data, from: number, to: number) => {
        for (let i = from; i < to; i++) ins.run(key(d, i), val(d, i));
      });
    },
    async putBatch(d, from, to) {
      tx(d, from, to);
    },
    get: async (k) => sel.get(k),
    async scan(from, n) {
      let c = 0;
      for (const _ of rng.iterate(from, n)) c++;
      return c;
    },
    async close() {
      db.close();
    },
  };
}

const engines = () => [ours(), level(), lmdb(), sqlite()];

async function loadAll(ctx: BenchContext, e: Engine, d: Data, label: string): Promise<{ ms: number; written: number }> {
  const w0 = wchar();
  const t0 = performance.now();
  for (let i = 0; i < d.n; i += BATCH) {
    await e.putBatch(d, i, Math.min(d.n, i + BATCH));
    if (i % (BATCH * 50) === 0) ctx.progress(`${e.name} ${label}`, i, d.n);
  }
  const ms = performance.now() - t0;
  return { ms, written: wchar() - w0 };
}

function writeCase(random: boolean): BenchCase {
  const name = random ? 'kv-put-random' : 'kv-put-sequential';
  return {
    name,
    async run(ctx) {
      const n = ctx.quick ? 100_000 : 1_000_000;
      const d = makeData(n, random);
      const rate: Record<string, number> = {};
      const disk: Record<string, number> = {};
      const wamp: Record<string, number> = {};
      const getRate: Record<string, number> = {};
      const scanRate: Record<string, number> = {};
      const notes: Record<string, string | number> = { entries: n, keyBytes: KEY, valueBytes: VAL, batch: BATCH };
      const userBytes = n * (KEY + VAL);
      const order = rng(99);
      const gets = ctx.quick ? 100_000 : 1_000_000;
      const probe = new Uint32Array(gets);
      for (let i = 0; i < gets; i++) probe[i] = Math.floor(order() * n);
      const scanN = Math.min(100_000, n);
      for (const e of engines()) {
        notes[`durability:${e.name}`] = e.durability;
        const dir = ctx.tmpDir(`kv-${e.name}-`);
        await e.open(dir);
        const { ms, written } = await loadAll(ctx, e, d, 'put');
        rate[e.name] = (n / ms) * 1000;
        const w1 = wchar();
        await e.close();
        // write amplification: bytes handed to write() by the load and the close, over user bytes
        wamp[e.name] = (written + (wchar() - w1)) / userBytes;
        disk[e.name] = dirSize(dir);
        await e.open(dir);
        if (random) {
          const t0 = performance.now();
          for (let i = 0; i < gets; i++) {
            const v = await e.get(key(d, probe[i]!));
            if (v === undefined || v === null) throw new Error(`${e.name}: missing key`);
            if (i % 50_000 === 0) ctx.progress(`${e.name} get`, i, gets);
          }
          getRate[e.name] = (gets / (performance.now() - t0)) * 1000;
        }
        const t1 = performance.now();
        const got = await e.scan(Buffer.alloc(KEY), scanN);
        if (got !== scanN) throw new Error(`${e.name}: scan returned ${got}`);
        scanRate[e.name] = (scanN / (performance.now() - t1)) * 1000;
        await e.close();
      }
      const split = (m: Record<string, number>) => ({ ours: m.ours!, peers: Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'ours')) });
      ctx.report({ metric: 'puts per second (batches of 1000)', unit: 'ops/s', higherIsBetter: true, ...split(rate), notes: { ...notes, goal: '>= 1.5x classic-level' } });
      ctx.report({ metric: 'bytes on disk after close', unit: 'bytes', higherIsBetter: false, ...split(disk), notes: { entries: n, userBytes, goal: '<= classic-level' } });
      if (random) ctx.report({ metric: 'random gets per second', unit: 'ops/s', higherIsBetter: true, ...split(getRate), notes: { gets, goal: '>= 1.0x classic-level' } });
      ctx.report({ metric: `range scan of ${scanN} entries`, unit: 'entries/s', higherIsBetter: true, ...split(scanRate), notes: { goal: '>= 1.0x classic-level' } });
      ctx.report({ metric: 'write amplification (bytes written / user bytes, load + close)', unit: 'x', higherIsBetter: false, ...split(wamp), notes: { source: '/proc/self/io wchar (write syscalls; lmdb writes through pwrite, not counted if memory-mapped writes are used)' } });
    },
  };
}

export const kvPutSequential = writeCase(false);
export const kvPutRandom = writeCase(true);

/** GC time and heap growth of 1M inserts: arena skiplist memtable vs a Map of Buffers. */
export const kvMemtableGc: BenchCase = {
  name: 'kv-memtable-gc',
  async run(ctx) {
    const n = ctx.quick ? 200_000 : 1_000_000;
    const d = makeData(n, true);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const measure = async (fill: () => unknown) => {
      gc();
      let gcMs = 0;
      const obs = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) gcMs += e.duration;
      });
      obs.observe({ entryTypes: ['gc'] });
      const h0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      const keep = fill();
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
      obs.disconnect();
      gc();
      const heap = process.memoryUsage().heapUsed - h0;
      void keep;
      return { gcMs, ms, heap };
    };
    const r = rng(5);
    const a = await measure(() => {
      const m = new Memtable(2 * 1024 * 1024, r);
      for (let i = 0; i < n; i++) m.add(i + 1, KIND_PUT, key(d, i), val(d, i));
      return m;
    });
    const b = await measure(() => {
      const m = new Map<string, Buffer>();
      for (let i = 0; i < n; i++) m.set(key(d, i).toString('latin1'), Buffer.from(val(d, i)));
      return m;
    });
    const per = 1_000_000 / n;
    ctx.report({ metric: 'GC time per million puts', unit: 'ms', higherIsBetter: false, ours: a.gcMs * per, peers: { 'map-of-buffers': b.gcMs * per }, notes: { entries: n, oursInsertMs: Math.round(a.ms), mapInsertMs: Math.round(b.ms), mapIsUnsorted: true } });
    ctx.report({ metric: 'JS heap growth per million puts', unit: 'MB', higherIsBetter: false, ours: (a.heap * per) / 1e6, peers: { 'map-of-buffers': (b.heap * per) / 1e6 }, notes: { note: 'arena slabs are ArrayBuffers (off the JS heap); the Map holds one string + one Buffer object per entry' } });
  },
};
