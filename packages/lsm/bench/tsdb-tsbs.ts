/**
 * Time-series benchmarks (issue 4): the TSBS cpu-only shape (generateTsbsCpuOnly), ingested and queried
 * by ours and by classic-level, lmdb, better-sqlite3, DuckDB and a naive JSON-lines file, on the same data
 * in the same process. Sizes: TSBS_HOSTS x TSBS_HOURS (quick: 10 x 16, full: 100 x 24 = 8.64M points).
 * See bench/README.md.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { dirSize, percentile, type BenchCase, type BenchContext } from '@dataplane/bench';
import { generateTsbsCpuOnly, openTsdb, TSBS_CPU_FIELDS, type ColumnarBatch, type Matcher, type Tsdb } from '../src/index.js';
import { prng } from '../src/tsdb/tsbs.js';

const DURABILITY = {
  ours: 'WAL off (wal: false), durable at each flush (fsync + manifest)',
  'classic-level': 'sync: false (LevelDB default, OS-buffered log)',
  lmdb: 'fsync per transaction (lmdb-js default)',
  'better-sqlite3': 'rollback journal, synchronous=FULL (defaults)',
  duckdb: 'appender, checkpoint at close',
  json: 'appendFileSync, no fsync',
};


const MIN = 60_000;
const HOUR = 3_600_000;
const FIELDS = 10;


/** One instance of a TSBS query: hosts (indexes), metrics (field indexes), [from, to), bucket width. */
interface QSpec { hosts: number[]; fields: number[]; from: number; to: number; step: number }
type QType = 'single-groupby-5-1-12' | 'cpu-max-all-8' | 'double-groupby-1' | 'high-cpu-1' | 'groupby-orderby-limit';
const QTYPES: readonly QType[] = ['single-groupby-5-1-12', 'cpu-max-all-8', 'double-groupby-1', 'high-cpu-1', 'groupby-orderby-limit'];
/** Normalised answer: row key (bucket or ts, and host for per-host groupings) -> values. */
type Answer = Map<string, number[]>;

/** TSBS's choices: random distinct hosts, a random window inside the data (ms-aligned, like TSBS's RandWindow). */
function makeSpecs(type: QType, n: number, hosts: number, start: number, end: number, seed = 0x7ab5): QSpec[] {
  const r = prng(seed + QTYPES.indexOf(type));
  const pickHosts = (k: number): number[] => {
    const all = Array.from({ length: hosts }, (_, i) => i);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, k).sort((a, b) => a - b);
  };
  const win = (w: number): [number, number] => {
    const f = start + Math.floor(r() * (end - start - w));
    return [f, f + w];
  };
  const out: QSpec[] = [];
  for (let i = 0; i < n; i++) {
    if (type === 'single-groupby-5-1-12') { const [from, to] = win(12 * HOUR); out.push({ hosts: pickHosts(1), fields: [0, 1, 2, 3, 4], from, to, step: MIN }); }
    else if (type === 'cpu-max-all-8') { const [from, to] = win(8 * HOUR); out.push({ hosts: pickHosts(Math.min(8, hosts)), fields: [...Array(FIELDS).keys()], from, to, step: HOUR }); }
    else if (type === 'double-groupby-1') { const [from, to] = win(12 * HOUR); out.push({ hosts: pickHosts(hosts), fields: [0], from, to, step: HOUR }); }
    else if (type === 'high-cpu-1') { const [from, to] = win(12 * HOUR); out.push({ hosts: pickHosts(1), fields: [0], from, to, step: 0 }); }
    else {
      // TSBS: max(usage_user) per minute WHERE time < end, ORDER BY minute DESC LIMIT 5. Every engine gets the
      // lower bound of the 5th bucket back (ours needs one; on data with no gaps the answer is the same).
      const to = start + 10 * MIN + Math.floor(r() * (end - start - 10 * MIN));
      out.push({ hosts: pickHosts(hosts), fields: [0], from: Math.floor(to / MIN) * MIN - 4 * MIN, to, step: MIN });
    }
  }
  return out;
}

/** The reduction each query type applies per bucket (and whether it is per host). */
const AGG: Record<QType, { agg: 'max' | 'avg' | 'raw'; perHost: boolean }> = {
  'single-groupby-5-1-12': { agg: 'max', perHost: false },
  'cpu-max-all-8': { agg: 'max', perHost: false },
  'double-groupby-1': { agg: 'avg', perHost: true },
  'high-cpu-1': { agg: 'raw', perHost: false },
  'groupby-orderby-limit': { agg: 'max', perHost: false },
};

/** Key-value peers: scan each (series, [from, to)) key range and reduce in JS. */
async function kvAnswer(type: QType, q: QSpec, scan: (s: number, from: number, to: number, fn: (t: number, v: number) => void) => Promise<void> | void): Promise<Answer> {
  const { agg, perHost } = AGG[type];
  const out: Answer = new Map();
  const cnt = new Map<string, number>();
  for (const [fi, f] of q.fields.entries()) {
    for (const h of q.hosts) {
      await scan(h * FIELDS + f, q.from, q.to, (t, v) => {
        if (agg === 'raw') {
          if (v > 90) out.set(String(t), [v]);
          return;
        }
        const k = perHost ? `${h}|${Math.floor(t / q.step) * q.step}` : String(Math.floor(t / q.step) * q.step);
        let row = out.get(k);
        if (row === undefined) out.set(k, (row = new Array<number>(q.fields.length).fill(agg === 'max' ? -Infinity : 0)));
        if (agg === 'max') row[fi] = Math.max(row[fi]!, v);
        else {
          row[fi] = row[fi]! + v;
          cnt.set(k, (cnt.get(k) ?? 0) + 1);
        }
      });
    }
  }
  if (agg === 'avg') for (const [k, row] of out) row[0] = row[0]! / cnt.get(k)!;
  return out;
}

/** SQL peers (table p(s, t, v), s = host * 10 + field): the TSBS SQL on a narrow table. */
function sqlOf(type: QType, q: QSpec, div: string): string {
  const ss = q.hosts.flatMap((h) => q.fields.map((f) => h * FIELDS + f));
  const where = `s IN (${ss.join(',')}) AND t >= ${q.from} AND t < ${q.to}`;
  if (type === 'high-cpu-1') return `SELECT t, v FROM p WHERE ${where} AND v > 90 ORDER BY t`;
  if (type === 'double-groupby-1') return `SELECT s ${div} ${FIELDS} AS h, t ${div} ${q.step} * ${q.step} AS b, avg(v) FROM p WHERE ${where} GROUP BY h, b`;
  const cols = q.fields.map((f) => `max(v) FILTER (WHERE s % ${FIELDS} = ${f})`).join(', ');
  const tail = type === 'groupby-orderby-limit' ? ' ORDER BY b DESC LIMIT 5' : '';
  return `SELECT t ${div} ${q.step} * ${q.step} AS b, ${cols} FROM p WHERE ${where} GROUP BY b${tail}`;
}

function sqlAnswer(type: QType, rows: readonly unknown[][]): Answer {
  const out: Answer = new Map();
  for (const r of rows) {
    const n = r.map((x) => Number(x));
    if (type === 'double-groupby-1') out.set(`${n[0]}|${n[1]}`, [n[2]!]);
    else out.set(String(n[0]), n.slice(1));
  }
  return out;
}

/** Fails the run when a peer's answer differs from ours (a benchmark of different answers is worthless). */
function assertSame(type: QType, peer: string, ours: Answer, theirs: Answer): void {
  const fail = (why: string): never => {
    throw new Error(`tsdb-tsbs ${type}: ${peer} answers differently from ours: ${why}`);
  };
  if (ours.size === 0) fail('ours is empty');
  if (ours.size !== theirs.size) fail(`${theirs.size} rows, ours ${ours.size}`);
  for (const [k, a] of ours) {
    const b = theirs.get(k) ?? fail(`row ${k} missing`);
    if (a.length !== b.length || a.some((x, i) => Math.abs(x - b[i]!) > 1e-9 * Math.max(1, Math.abs(x)))) fail(`row ${k}: ${b.join(',')} vs ours ${a.join(',')}`);
  }
}

function key(series: number, ts: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32BE(series, 0);
  b.writeDoubleBE(ts, 4); // positive timestamps sort correctly as big-endian doubles
  return b;
}

function data(ctx: BenchContext, shape: 'integer' | 'decimal2'): { batches: ColumnarBatch[]; points: number; hosts: number; hours: number } {
  const hosts = Number(process.env.TSBS_HOSTS ?? (ctx.quick ? 10 : 100));
  const hours = Number(process.env.TSBS_HOURS ?? (ctx.quick ? 16 : 24)); // >= 12 h: TSBS windows must fit
  const batches = [...generateTsbsCpuOnly({ hosts, hours, values: shape, batchTimestamps: 90 })];
  return { batches, points: batches.reduce((s, b) => s + b.ts.length, 0), hosts, hours };
}

async function timed(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Untimed warm-up per query type and engine, on other instances than the timed ones, the same rule for
 * every engine: at least WARMUP instances and until WARMUP_MS have passed (at most WARMUP_MAX). Steady
 * state (JIT, caches), as in a long-running server or TSBS's runs of thousands of queries per type.
 */
const WARMUP = 10;
const WARMUP_MS = 100;
const WARMUP_MAX = 200;

/** Runs warm-up instances `fn(n ..)` untimed (see WARMUP), then times `fn(0 .. n - 1)`. */
async function timedLoop(n: number, fn: (i: number) => Promise<void> | void): Promise<number[]> {
  const t0 = performance.now();
  for (let i = 0; i < WARMUP_MAX && (i < WARMUP || performance.now() - t0 < WARMUP_MS); i++) await fn(n + i);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await timed(() => fn(i)));
  return xs;
}

/**
 * Ingest timing, the same rule for every engine. First an untimed warm-up: the whole load once into a
 * scratch store that is then closed (JIT tiers, native code paths, page cache warm; nothing of it is
 * reused; a tenth of the load left ours' JIT still tiering up). Then INGEST_RUNS - 1 timed ingests of
 * the whole load, each into its own empty scratch store (then closed), and the timed ingest into the
 * store the queries use; the reported time is the median of these INGEST_RUNS (one ingest of a few
 * hundred ms is at the mercy of one scheduler or fsync stall on a shared machine).
 */
const INGEST_RUNS = 3;

async function scratchIngests(ctx: BenchContext, engine: string, warm: (dir: string) => Promise<void> | void, timedRun: (dir: string) => Promise<number>): Promise<number[]> {
  await warm(ctx.tmpDir(`tsdb-warm-${engine}`));
  const ms: number[] = [];
  for (let r = 1; r < INGEST_RUNS; r++) ms.push(await timedRun(ctx.tmpDir(`tsdb-run${r}-${engine}`)));
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function runShape(ctx: BenchContext, shape: 'integer' | 'decimal2'): Promise<void> {
  const { batches, points, hosts, hours } = data(ctx, shape);
  const warmBatches = batches;
  const start = Date.UTC(2016, 0, 1);
  const ingest: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  const q1: Record<string, number[]> = {};
  const last: Record<string, number[]> = {};
  const reps = ctx.quick ? 20 : 50;
  const hour = 3_600_000;
  const qSeries = (i: number) => (i * 7919) % hosts * 10; // cpu_usage_user of a pseudo-random host
  const qFrom = (i: number) => start + ((i * 31) % Math.max(1, hours - 1)) * hour;
  const specs = Object.fromEntries(QTYPES.map((t) => [t, makeSpecs(t, reps, hosts, start, start + hours * hour)])) as Record<QType, QSpec[]>;
  const warm = Object.fromEntries(QTYPES.map((t) => [t, makeSpecs(t, WARMUP_MAX, hosts, start, start + hours * hour, 0x3a11)])) as Record<QType, QSpec[]>;
  const lat = Object.fromEntries(QTYPES.map((t) => [t, {}])) as Record<QType, Record<string, number[]>>;
  /** Ours' answers to the first instances of each type, up to and including the first non-empty one. */
  const oursAnswers = Object.fromEntries(QTYPES.map((t) => [t, []])) as unknown as Record<QType, Answer[]>;
  /**
   * Times every query instance of every type on one engine; checks its answers against ours from the
   * first instance up to the first one where ours is not empty (an empty answer, e.g. a high-cpu-1
   * host whose window has no value above 90, must be empty for the peer too, but proves little alone).
   */
  const runQueries = async (engine: string, answer: (type: QType, q: QSpec) => Promise<Answer> | Answer): Promise<void> => {
    for (const type of QTYPES) {
      const t0 = performance.now();
      for (const [i, q] of warm[type].entries()) if (i < WARMUP || performance.now() - t0 < WARMUP_MS) await answer(type, q);
      const xs: number[] = (lat[type][engine] = []);
      for (const [i, q] of specs[type].entries()) {
        let a: Answer | undefined;
        xs.push(await timed(async () => void (a = await answer(type, q))));
        const mine = oursAnswers[type];
        if (engine === 'ours') {
          if (i === mine.length && (i === 0 || mine[i - 1]!.size === 0)) mine.push(a!);
        } else if (i < mine.length) {
          if (mine[i]!.size === 0 && a!.size !== 0) throw new Error(`tsdb-tsbs ${type}: ${engine} answers ${a!.size} rows to instance ${i}, ours none`);
          if (mine[i]!.size > 0) assertSame(type, engine, mine[i]!, a!);
        }
      }
      if (engine === 'ours' && oursAnswers[type].at(-1)?.size === 0) throw new Error(`tsdb-tsbs ${type}: ours answers no instance with rows`);
    }
  };

  // ours
  {
    const dir = ctx.tmpDir('tsdb-ours');
    const open = (d: string) => openTsdb(d, { wal: false, headMaxPoints: 2_000_000 });
    const load = async (db: Tsdb, bs: readonly ColumnarBatch[]) => {
      for (const b of bs) await db.write(b);
      await db.flush();
    };
    const runs = await scratchIngests(ctx, 'ours', async (d) => { const w = await open(d); await load(w, warmBatches); await w.close(); }, async (d) => {
      const w = await open(d);
      const ms = await timed(() => load(w, batches));
      await w.close();
      return ms;
    });
    const db = await open(dir);
    ingest['ours'] = median([...runs, await timed(() => load(db, batches))]);
    const series = batches[0]!.series;
    q1['ours'] = await timedLoop(reps, async (i) => {
      const host = series[qSeries(i)]!.tags!['hostname']!;
      for await (const s of db.query({ metric: 'cpu_usage_user', where: { tag: 'hostname', op: '=', value: host }, from: qFrom(i), to: qFrom(i) + hour, step: 60_000, agg: 'max' })) void s;
    });
    last['ours'] = await timedLoop(Math.min(reps, 10), async () => { for await (const p of db.lastPoint({ metric: 'cpu_usage_user' })) void p; });
    const hostIndex = new Map<string, number>();
    for (let h = 0; h < hosts; h++) hostIndex.set(series[h * FIELDS]!.tags!['hostname']!, h);
    const hostName = (h: number) => series[h * FIELDS]!.tags!['hostname']!;
    await runQueries('ours', async (type, q) => {
      const { agg, perHost } = AGG[type];
      const where: Matcher | undefined =
        q.hosts.length === hosts ? undefined : q.hosts.length === 1 ? { tag: 'hostname', op: '=', value: hostName(q.hosts[0]!) } : { or: q.hosts.map((h) => ({ tag: 'hostname', op: '=' as const, value: hostName(h) })) };
      const out: Answer = new Map();
      for (const [fi, f] of q.fields.entries()) {
        const metric = `cpu_${TSBS_CPU_FIELDS[f]!}`;
        if (agg === 'raw') {
          // high-cpu-1: raw points of usage_user > 90 (the value filter runs inside the query)
          for await (const r of db.query({ metric, where, from: q.from, to: q.to, valueFilter: { gt: 90 } })) for (let i = 0; i < r.ts.length; i++) out.set(String(r.ts[i]), [r.values[i]!]);
          continue;
        }
        for await (const r of db.query({ metric, where, from: q.from, to: q.to, step: q.step, agg, groupBy: perHost ? ['hostname'] : [] })) {
          const h = perHost ? hostIndex.get(r.tags['hostname']!)! : 0;
          const first = type === 'groupby-orderby-limit' ? Math.max(0, r.ts.length - 5) : 0;
          for (let i = first; i < r.ts.length; i++) {
            const k = perHost ? `${h}|${r.ts[i]}` : String(r.ts[i]);
            let row = out.get(k);
            if (row === undefined) out.set(k, (row = new Array<number>(q.fields.length).fill(NaN)));
            row[fi] = r.values[i]!;
          }
        }
      }
      return out;
    });
    await db.close();
    bytes['ours'] = dirSize(dir) / points;
  }
  // classic-level
  {
    const dir = ctx.tmpDir('tsdb-level');
    const open = async (d: string) => {
      const db = new ClassicLevel<Buffer, Buffer>(d, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      return db;
    };
    const load = async (db: ClassicLevel<Buffer, Buffer>, bs: readonly ColumnarBatch[]) => {
      for (const b of bs) {
        const ops = [];
        for (let i = 0; i < b.ts.length; i++) {
          const v = Buffer.allocUnsafe(8);
          v.writeDoubleLE(b.values[i]!);
          ops.push({ type: 'put' as const, key: key(b.seriesIndex[i]!, b.ts[i]!), value: v });
        }
        await db.batch(ops);
      }
    };
    const runs = await scratchIngests(ctx, 'classic-level', async (d) => { const w = await open(d); await load(w, warmBatches); await w.close(); }, async (d) => {
      const w = await open(d);
      const ms = await timed(() => load(w, batches));
      await w.close();
      return ms;
    });
    const db = await open(dir);
    ingest['classic-level'] = median([...runs, await timed(() => load(db, batches))]);
    q1['classic-level'] = await timedLoop(reps, async (i) => {
      const s = qSeries(i);
      const m = new Map<number, number>();
      for await (const [k, v] of db.iterator({ gte: key(s, qFrom(i)), lt: key(s, qFrom(i) + hour) })) {
        const b = Math.floor(k.readDoubleBE(4) / 60_000);
        m.set(b, Math.max(m.get(b) ?? -Infinity, v.readDoubleLE(0)));
      }
    });
    last['classic-level'] = await timedLoop(Math.min(reps, 10), async () => {
      for (let h = 0; h < hosts; h++) for await (const e of db.iterator({ lt: key(h * 10 + 1, 0), reverse: true, limit: 1 })) void e;
    });
    await runQueries('classic-level', (type, q) =>
      kvAnswer(type, q, async (s, from, to, fn) => {
        for await (const [k, v] of db.iterator({ gte: key(s, from), lt: key(s, to) })) fn(k.readDoubleBE(4), v.readDoubleLE(0));
      }),
    );
    await db.close();
    bytes['classic-level'] = dirSize(dir) / points;
  }
  // lmdb
  {
    const dir = ctx.tmpDir('tsdb-lmdb');
    const open = (d: string) => openLmdb<Buffer, Buffer>({ path: join(d, 'db'), keyEncoding: 'binary', encoding: 'binary' });
    const load = async (db: ReturnType<typeof open>, bs: readonly ColumnarBatch[]) => {
      for (const b of bs) {
        await db.transaction(() => {
          for (let i = 0; i < b.ts.length; i++) {
            const v = Buffer.allocUnsafe(8);
            v.writeDoubleLE(b.values[i]!);
            void db.put(key(b.seriesIndex[i]!, b.ts[i]!), v);
          }
        });
      }
    };
    const runs = await scratchIngests(ctx, 'lmdb', async (d) => { const w = open(d); await load(w, warmBatches); await w.close(); }, async (d) => {
      const w = open(d);
      const ms = await timed(() => load(w, batches));
      await w.close();
      return ms;
    });
    const db = open(dir);
    ingest['lmdb'] = median([...runs, await timed(() => load(db, batches))]);
    q1['lmdb'] = await timedLoop(reps, (i) => {
      const s = qSeries(i);
      const m = new Map<number, number>();
      for (const { key: k, value: v } of db.getRange({ start: key(s, qFrom(i)), end: key(s, qFrom(i) + hour) })) {
        const kb = k;
        const b = Math.floor(kb.readDoubleBE(4) / 60_000);
        m.set(b, Math.max(m.get(b) ?? -Infinity, v.readDoubleLE(0)));
      }
    });
    last['lmdb'] = await timedLoop(Math.min(reps, 10), () => {
      for (let h = 0; h < hosts; h++) for (const e of db.getRange({ start: key(h * 10 + 1, 0), reverse: true, limit: 1 })) void e;
    });
    await runQueries('lmdb', (type, q) =>
      kvAnswer(type, q, (s, from, to, fn) => {
        for (const { key: k, value: v } of db.getRange({ start: key(s, from), end: key(s, to) })) fn(k.readDoubleBE(4), v.readDoubleLE(0));
      }),
    );
    await db.close();
    bytes['lmdb'] = dirSize(dir) / points;
  }
  // better-sqlite3
  {
    const dir = ctx.tmpDir('tsdb-sqlite');
    const open = (d: string) => {
      const db = new Database(join(d, 'db.sqlite'));
      db.exec('CREATE TABLE p (s INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, PRIMARY KEY (s, t)) WITHOUT ROWID');
      return db;
    };
    const load = (db: ReturnType<typeof open>, bs: readonly ColumnarBatch[]) => {
      const ins = db.prepare('INSERT OR REPLACE INTO p VALUES (?, ?, ?)');
      const tx = db.transaction((b: ColumnarBatch) => {
        for (let i = 0; i < b.ts.length; i++) ins.run(b.seriesIndex[i]!, b.ts[i]!, b.values[i]!);
      });
      for (const b of bs) tx(b);
    };
    const runs = await scratchIngests(ctx, 'better-sqlite3', (d) => { const w = open(d); load(w, warmBatches); w.close(); }, async (d) => {
      const w = open(d);
      const ms = await timed(() => load(w, batches));
      w.close();
      return ms;
    });
    const db = open(dir);
    ingest['better-sqlite3'] = median([...runs, await timed(() => load(db, batches))]);
    const q = db.prepare('SELECT t / 60000 AS b, max(v) FROM p WHERE s = ? AND t >= ? AND t < ? GROUP BY b');
    q1['better-sqlite3'] = await timedLoop(reps, (i) => void q.all(qSeries(i), qFrom(i), qFrom(i) + hour));
    const lq = db.prepare('SELECT t, v FROM p WHERE s = ? ORDER BY t DESC LIMIT 1');
    last['better-sqlite3'] = await timedLoop(Math.min(reps, 10), () => { for (let h = 0; h < hosts; h++) lq.get(h * 10); });
    await runQueries('better-sqlite3', (type, q) => sqlAnswer(type, db.prepare(sqlOf(type, q, '/')).raw().all() as unknown[][]));
    db.close();
    bytes['better-sqlite3'] = dirSize(dir) / points;
  }
  // duckdb
  {
    const dir = ctx.tmpDir('tsdb-duckdb');
    const open = async (d: string) => {
      const inst = await DuckDBInstance.create(join(d, 'db.duckdb'));
      const con = await inst.connect();
      await con.run('CREATE TABLE p (s INTEGER, t BIGINT, v DOUBLE)');
      return { inst, con };
    };
    const load = async (con: DuckDBConnection, bs: readonly ColumnarBatch[]) => {
      const app = await con.createAppender('p');
      for (const b of bs) {
        for (let i = 0; i < b.ts.length; i++) {
          app.appendInteger(b.seriesIndex[i]!);
          app.appendBigInt(BigInt(b.ts[i]!));
          app.appendDouble(b.values[i]!);
          app.endRow();
        }
      }
      app.closeSync();
      await con.run('CHECKPOINT');
    };
    const runOn = async (d: string, bs: readonly ColumnarBatch[]): Promise<number> => {
      const w = await open(d);
      const ms = await timed(() => load(w.con, bs));
      w.con.closeSync();
      w.inst.closeSync();
      return ms;
    };
    const runs = await scratchIngests(ctx, 'duckdb', async (d) => void (await runOn(d, warmBatches)), (d) => runOn(d, batches));
    const { inst, con } = await open(dir);
    ingest['duckdb'] = median([...runs, await timed(() => load(con, batches))]);
    q1['duckdb'] = await timedLoop(reps, async (i) => void (await con.runAndReadAll(`SELECT t // 60000 AS b, max(v) FROM p WHERE s = ${qSeries(i)} AND t >= ${qFrom(i)} AND t < ${qFrom(i) + hour} GROUP BY b`)).getRows());
    last['duckdb'] = await timedLoop(Math.min(reps, 10), async () => void (await con.runAndReadAll('SELECT s, arg_max(v, t), max(t) FROM p WHERE s % 10 = 0 GROUP BY s')).getRows());
    await runQueries('duckdb', async (type, q) => sqlAnswer(type, (await con.runAndReadAll(sqlOf(type, q, '//'))).getRows()));
    con.closeSync();
    inst.closeSync();
    bytes['duckdb'] = dirSize(dir) / points;
  }
  // naive JSON lines
  {
    const dir = ctx.tmpDir('tsdb-json');
    const load = (file: string, bs: readonly ColumnarBatch[]) => {
      for (const b of bs) {
        let s = '';
        for (let i = 0; i < b.ts.length; i++) {
          const ser = b.series[b.seriesIndex[i]!]!;
          s += JSON.stringify({ metric: ser.metric, tags: ser.tags, ts: b.ts[i], value: b.values[i] }) + '\n';
        }
        appendFileSync(file, s);
      }
    };
    const runs = await scratchIngests(ctx, 'json', (d) => load(join(d, 'points.jsonl'), warmBatches), (d) => timed(() => load(join(d, 'points.jsonl'), batches)));
    ingest['json'] = median([...runs, await timed(() => load(join(dir, 'points.jsonl'), batches))]);
    bytes['json'] = dirSize(dir) / points;
  }

  const notes = { points, hosts, hours, shape, ...Object.fromEntries(Object.entries(DURABILITY).map(([k, v]) => [`durability.${k}`, v])) };
  const peersOf = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'ours'));
  const rate = Object.fromEntries(Object.entries(ingest).map(([k, ms]) => [k, points / (ms / 1000)]));
  const warmup = `untimed warm-up first (the whole load once into a scratch store of the same engine), then the median of ${INGEST_RUNS} timed ingests, each into an empty store (every engine)`;
  ctx.report({ case: `tsdb-ingest-${shape}`, metric: 'ingest', unit: 'points/s', higherIsBetter: true, ours: rate['ours']!, peers: peersOf(rate), notes: { ...notes, warmup, goal: '>= 3x best peer' } });
  ctx.report({ case: `tsdb-disk-${shape}`, metric: 'bytes on disk per point', unit: 'B/point', higherIsBetter: false, ours: bytes['ours']!, peers: peersOf(bytes), notes: { ...notes, goal: '<= 1.5' } });
  const qNotes: Record<string, Record<string, string>> = {
    'high-cpu-1': { ours: 'raw query of usage_user with valueFilter { gt: 90 }; every engine returns (ts, usage_user) only, not all 10 fields' },
    'groupby-orderby-limit': { bound: 'every engine gets the lower bound of the 5th bucket (TSBS has only time < end; same answer on gap-free data)' },
  };
  const queries: [string, Record<string, number[]>][] = [['single-groupby-1-1-1', q1], ['lastpoint', last], ...QTYPES.map((t) => [t, lat[t]] as [string, Record<string, number[]>])];
  for (const [name, m] of queries) {
    for (const p of [50, 99]) {
      const v = Object.fromEntries(Object.entries(m).map(([k, xs]) => [k, percentile(xs, p)]));
      ctx.report({ case: `tsdb-${name}-${shape}`, metric: `latency p${p}`, unit: 'ms', higherIsBetter: false, ours: v['ours']!, peers: peersOf(v), notes: { points, reps: m['ours']!.length, warmup: `>= ${WARMUP} instances and ${WARMUP_MS} ms (max ${WARMUP_MAX})`, ...(QTYPES.includes(name as QType) ? { verified: 'first instance with rows (and any empty ones before it): every peer answer equals ours' } : {}), ...qNotes[name] } });
    }
  }
}

export const tsdbTsbsInteger: BenchCase = { name: 'tsdb-tsbs-integer', run: (ctx) => runShape(ctx, 'integer') };
export const tsdbTsbsDecimal: BenchCase = { name: 'tsdb-tsbs-decimal2', run: (ctx) => runShape(ctx, 'decimal2') };
