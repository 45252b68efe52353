/**
 * Bytes allocated per TSDB query (issue 4, p99): the queries of tsdb-tsbs.ts that ours runs for
 * groupby-orderby-limit and high-cpu-1, repeated QUERIES times on the TSBS cpu-only shape. Run with a
 * young generation large enough that no scavenge happens inside one query, e.g.
 * `node --expose-gc --max-semi-space-size=256 --import tsx bench/tsdb-alloc.ts`; a query whose heap
 * delta is negative (a GC ran inside it) is left out of the mean. Env: TSBS_HOSTS (100), TSBS_HOURS
 * (13), QUERIES (1000), TSBS_SHAPE (integer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTsbsCpuOnly, openTsdb, type Matcher } from '../src/index.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const hosts = Number(process.env.TSBS_HOSTS ?? 100);
const hours = Number(process.env.TSBS_HOURS ?? 13);
const queries = Number(process.env.QUERIES ?? 1000);
const shape = (process.env.TSBS_SHAPE ?? 'integer') as 'integer' | 'decimal2';
const start = Date.UTC(2016, 0, 1);
const end = start + hours * HOUR;

/** Seeded PRNG (mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tsdb-alloc-'));
const batches = [...generateTsbsCpuOnly({ hosts, hours, values: shape, batchTimestamps: 90 })];
const db = await openTsdb(dir, { wal: false, headMaxPoints: 2_000_000 });
for (const b of batches) await db.write(b);
await db.flush();
const names = Array.from({ length: hosts }, (_, h) => batches[0]!.series[h * 10]!.tags!['hostname']!);
const r = mulberry32(0x7ab5);

async function groupbyOrderbyLimit(): Promise<number> {
  const to = start + 10 * MIN + Math.floor(r() * (end - start - 10 * MIN));
  let n = 0;
  for await (const s of db.query({ metric: 'cpu_usage_user', from: Math.floor(to / MIN) * MIN - 4 * MIN, to, step: MIN, agg: 'max', groupBy: [] })) n += s.ts.length;
  return n;
}

async function highCpu1(): Promise<number> {
  const from = start + Math.floor(r() * (end - start - 12 * HOUR));
  const where: Matcher = { tag: 'hostname', op: '=', value: names[Math.floor(r() * hosts)]! };
  let n = 0;
  for await (const s of db.query({ metric: 'cpu_usage_user', where, from, to: from + 12 * HOUR, valueFilter: { gt: 90 } })) n += s.ts.length;
  return n;
}

const gc = (globalThis as { gc?: () => void }).gc;
for (const [name, fn] of [['groupby-orderby-limit', groupbyOrderbyLimit], ['high-cpu-1', highCpu1]] as const) {
  for (let i = 0; i < 200; i++) await fn(); // warm-up (JIT)
  gc?.();
  let heap = 0;
  let ext = 0;
  let counted = 0;
  for (let i = 0; i < queries; i++) {
    const m0 = process.memoryUsage();
    await fn();
    const m1 = process.memoryUsage();
    const dh = m1.heapUsed - m0.heapUsed;
    if (dh < 0) continue;
    heap += dh;
    ext += Math.max(0, m1.arrayBuffers - m0.arrayBuffers);
    counted++;
  }
  console.log(JSON.stringify({ query: name, shape, hosts, hours, queries, counted, heapBytesPerQuery: Math.round(heap / counted), arrayBufferBytesPerQuery: Math.round(ext / counted) }));
}
await db.close();
rmSync(dir, { recursive: true, force: true });
