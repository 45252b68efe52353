/**
 * Time-series benchmarks (issue 4): the TSBS cpu-only shape (generateTsbsCpuOnly), ingested and queried
 * by ours and by classic-level, lmdb, better-sqlite3, DuckDB and a naive JSON-lines file, on the same data
 * in the same process. Sizes: TSBS_HOSTS x TSBS_HOURS (quick: 10 x 6, full: 100 x 24 = 8.64M points).
 * See bench/README.md.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';
import { DuckDBInstance } from '@duckdb/node-api';
import { dirSize, percentile, type BenchCase, type BenchContext } from '@dataplane/bench';
import { generateTsbsCpuOnly, openTsdb, type ColumnarBatch } from '../src/index.js';

const DURABILITY = {
  ours: 'WAL off (wal: false), durable at each flush (fsync + manifest)',
  'classic-level': 'sync: false (LevelDB default, OS-buffered log)',
  lmdb: 'fsync per transaction (lmdb-js default)',
  'better-sqlite3': 'rollback journal, synchronous=FULL (defaults)',
  duckdb: 'appender, checkpoint at close',
  json: 'appendFileSync, no fsync',
};

function key(series: number, ts: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32BE(series, 0);
  b.writeDoubleBE(ts, 4); // positive timestamps sort correctly as big-endian doubles
  return b;
}

function data(ctx: BenchContext, shape: 'integer' | 'decimal2'): { batches: ColumnarBatch[]; points: number; hosts: number; hours: number } {
  const hosts = Number(process.env.TSBS_HOSTS ?? (ctx.quick ? 10 : 100));
  const hours = Number(process.env.TSBS_HOURS ?? (ctx.quick ? 6 : 24));
  const batches = [...generateTsbsCpuOnly({ hosts, hours, values: shape, batchTimestamps: 90 })];
  return { batches, points: batches.reduce((s, b) => s + b.ts.length, 0), hosts, hours };
}

async function timed(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function runShape(ctx: BenchContext, shape: 'integer' | 'decimal2'): Promise<void> {
  const { batches, points, hosts, hours } = data(ctx, shape);
  const start = Date.UTC(2016, 0, 1);
  const ingest: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  const q1: Record<string, number[]> = {};
  const last: Record<string, number[]> = {};
  const reps = ctx.quick ? 20 : 50;
  const hour = 3_600_000;
  const qSeries = (i: number) => (i * 7919) % hosts * 10; // cpu_usage_user of a pseudo-random host
  const qFrom = (i: number) => start + ((i * 31) % Math.max(1, hours - 1)) * hour;

  // ours
  {
    const dir = ctx.tmpDir('tsdb-ours');
    const db = await openTsdb(dir, { wal: false, headMaxPoints: 2_000_000 });
    ingest['ours'] = await timed(async () => {
      for (const b of batches) await db.write(b);
      await db.flush();
    });
    const series = batches[0]!.series;
    q1['ours'] = [];
    for (let i = 0; i < reps; i++) {
      const host = series[qSeries(i)]!.tags!['hostname']!;
      q1['ours'].push(
        await timed(async () => {
          for await (const s of db.query({ metric: 'cpu_usage_user', where: { tag: 'hostname', op: '=', value: host }, from: qFrom(i), to: qFrom(i) + hour, step: 60_000, agg: 'max' })) void s;
        }),
      );
    }
    last['ours'] = [];
    for (let i = 0; i < Math.min(reps, 10); i++) last['ours'].push(await timed(async () => { for await (const p of db.lastPoint({ metric: 'cpu_usage_user' })) void p; }));
    await db.close();
    bytes['ours'] = dirSize(dir) / points;
  }
  // classic-level
  {
    const dir = ctx.tmpDir('tsdb-level');
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    ingest['classic-level'] = await timed(async () => {
      for (const b of batches) {
        const ops = [];
        for (let i = 0; i < b.ts.length; i++) {
          const v = Buffer.allocUnsafe(8);
          v.writeDoubleLE(b.values[i]!);
          ops.push({ type: 'put' as const, key: key(b.seriesIndex[i]!, b.ts[i]!), value: v });
        }
        await db.batch(ops);
      }
    });
    q1['classic-level'] = [];
    for (let i = 0; i < reps; i++) {
      q1['classic-level'].push(
        await timed(async () => {
          const s = qSeries(i);
          const m = new Map<number, number>();
          for await (const [k, v] of db.iterator({ gte: key(s, qFrom(i)), lt: key(s, qFrom(i) + hour) })) {
            const b = Math.floor(k.readDoubleBE(4) / 60_000);
            m.set(b, Math.max(m.get(b) ?? -Infinity, v.readDoubleLE(0)));
          }
        }),
      );
    }
    last['classic-level'] = [];
    for (let i = 0; i < Math.min(reps, 10); i++) {
      last['classic-level'].push(
        await timed(async () => {
          for (let h = 0; h < hosts; h++) for await (const e of db.iterator({ lt: key(h * 10 + 1, 0), reverse: true, limit: 1 })) void e;
        }),
      );
    }
    await db.close();
    bytes['classic-level'] = dirSize(dir) / points;
  }
  // lmdb
  {
    const dir = ctx.tmpDir('tsdb-lmdb');
    const db = openLmdb<Buffer, Buffer>({ path: join(dir, 'db'), keyEncoding: 'binary', encoding: 'binary' });
    ingest['lmdb'] = await timed(async () => {
      for (const b of batches) {
        await db.transaction(() => {
          for (let i = 0; i < b.ts.length; i++) {
            const v = Buffer.allocUnsafe(8);
            v.writeDoubleLE(b.values[i]!);
            void db.put(key(b.seriesIndex[i]!, b.ts[i]!), v);
          }
        });
      }
    });
    q1['lmdb'] = [];
    for (let i = 0; i < reps; i++) {
      q1['lmdb'].push(
        await timed(() => {
          const s = qSeries(i);
          const m = new Map<number, number>();
          for (const { key: k, value: v } of db.getRange({ start: key(s, qFrom(i)), end: key(s, qFrom(i) + hour) })) {
            const kb = k;
            const b = Math.floor(kb.readDoubleBE(4) / 60_000);
            m.set(b, Math.max(m.get(b) ?? -Infinity, v.readDoubleLE(0)));
          }
        }),
      );
    }
    last['lmdb'] = [];
    for (let i = 0; i < Math.min(reps, 10); i++) {
      last['lmdb'].push(
        await timed(() => {
          for (let h = 0; h < hosts; h++) for (const e of db.getRange({ start: key(h * 10 + 1, 0), reverse: true, limit: 1 })) void e;
        }),
      );
    }
    await db.close();
    bytes['lmdb'] = dirSize(dir) / points;
  }
  // better-sqlite3
  {
    const dir = ctx.tmpDir('tsdb-sqlite');
    const db = new Database(join(dir, 'db.sqlite'));
    db.exec('CREATE TABLE p (s INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, PRIMARY KEY (s, t)) WITHOUT ROWID');
    const ins = db.prepare('INSERT OR REPLACE INTO p VALUES (?, ?, ?)');
    const tx = db.transaction((b: ColumnarBatch) => {
      for (let i = 0; i < b.ts.length; i++) ins.run(b.seriesIndex[i]!, b.ts[i]!, b.values[i]!);
    });
    ingest['better-sqlite3'] = await timed(() => {
      for (const b of batches) tx(b);
    });
    const q = db.prepare('SELECT t / 60000 AS b, max(v) FROM p WHERE s = ? AND t >= ? AND t < ? GROUP BY b');
    q1['better-sqlite3'] = [];
    for (let i = 0; i < reps; i++) q1['better-sqlite3'].push(await timed(() => void q.all(qSeries(i), qFrom(i), qFrom(i) + hour)));
    const lq = db.prepare('SELECT t, v FROM p WHERE s = ? ORDER BY t DESC LIMIT 1');
    last['better-sqlite3'] = [];
    for (let i = 0; i < Math.min(reps, 10); i++) last['better-sqlite3'].push(await timed(() => { for (let h = 0; h < hosts; h++) lq.get(h * 10); }));
    db.close();
    bytes['better-sqlite3'] = dirSize(dir) / points;
  }
  // duckdb
  {
    const dir = ctx.tmpDir('tsdb-duckdb');
    const inst = await DuckDBInstance.create(join(dir, 'db.duckdb'));
    const con = await inst.connect();
    await con.run('CREATE TABLE p (s INTEGER, t BIGINT, v DOUBLE)');
    ingest['duckdb'] = await timed(async () => {
      const app = await con.createAppender('p');
      for (const b of batches) {
        for (let i = 0; i < b.ts.length; i++) {
          app.appendInteger(b.seriesIndex[i]!);
          app.appendBigInt(BigInt(b.ts[i]!));
          app.appendDouble(b.values[i]!);
          app.endRow();
        }
      }
      app.closeSync();
      await con.run('CHECKPOINT');
    });
    q1['duckdb'] = [];
    for (let i = 0; i < reps; i++) {
      q1['duckdb'].push(await timed(async () => void (await con.runAndReadAll(`SELECT t // 60000 AS b, max(v) FROM p WHERE s = ${qSeries(i)} AND t >= ${qFrom(i)} AND t < ${qFrom(i) + hour} GROUP BY b`)).getRows()));
    }
    last['duckdb'] = [];
    for (let i = 0; i < Math.min(reps, 10); i++) last['duckdb'].push(await timed(async () => void (await con.runAndReadAll('SELECT s, arg_max(v, t), max(t) FROM p WHERE s % 10 = 0 GROUP BY s')).getRows()));
    con.closeSync();
    inst.closeSync();
    bytes['duckdb'] = dirSize(dir) / points;
  }
  // naive JSON lines
  {
    const dir = ctx.tmpDir('tsdb-json');
    const file = join(dir, 'points.jsonl');
    ingest['json'] = await timed(() => {
      for (const b of batches) {
        let s = '';
        for (let i = 0; i < b.ts.length; i++) {
          const ser = b.series[b.seriesIndex[i]!]!;
          s += JSON.stringify({ metric: ser.metric, tags: ser.tags, ts: b.ts[i], value: b.values[i] }) + '\n';
        }
        appendFileSync(file, s);
      }
    });
    bytes['json'] = dirSize(dir) / points;
  }

  const notes = { points, hosts, hours, shape, ...Object.fromEntries(Object.entries(DURABILITY).map(([k, v]) => [`durability.${k}`, v])) };
  const peersOf = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'ours'));
  const rate = Object.fromEntries(Object.entries(ingest).map(([k, ms]) => [k, points / (ms / 1000)]));
  ctx.report({ case: `tsdb-ingest-${shape}`, metric: 'ingest', unit: 'points/s', higherIsBetter: true, ours: rate['ours']!, peers: peersOf(rate), notes: { ...notes, goal: '>= 3x best peer' } });
  ctx.report({ case: `tsdb-disk-${shape}`, metric: 'bytes on disk per point', unit: 'B/point', higherIsBetter: false, ours: bytes['ours']!, peers: peersOf(bytes), notes: { ...notes, goal: '<= 1.5' } });
  for (const [name, m] of [['single-groupby-1-1-1', q1], ['lastpoint', last]] as const) {
    for (const p of [50, 99]) {
      const v = Object.fromEntries(Object.entries(m).map(([k, xs]) => [k, percentile(xs, p)]));
      ctx.report({ case: `tsdb-${name}-${shape}`, metric: `latency p${p}`, unit: 'ms', higherIsBetter: false, ours: v['ours']!, peers: peersOf(v), notes: { points, reps: m['ours']!.length } });
    }
  }
}

export const tsdbTsbsInteger: BenchCase = { name: 'tsdb-tsbs-integer', run: (ctx) => runShape(ctx, 'integer') };
export const tsdbTsbsDecimal: BenchCase = { name: 'tsdb-tsbs-decimal2', run: (ctx) => runShape(ctx, 'decimal2') };
