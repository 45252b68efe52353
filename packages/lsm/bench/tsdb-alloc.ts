/**
 * Bytes allocated per TSDB query (issue 4, p99): the queries of tsdb-tsbs.ts that ours runs for
 * groupby-orderby-limit and high-cpu-1, QUERIES times each after a warm-up, on the TSBS cpu-only shape.
 * Reports the JS-heap bytes allocated per query (sampling heap profiler, objects already collected
 * included) and the growth of ArrayBuffer backing stores per query (`process.memoryUsage().arrayBuffers`,
 * meaningful only when no GC runs in the loop: `clean`). Run:
 * `node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 --import tsx bench/tsdb-alloc.ts`
 * Env: TSBS_HOSTS (100), TSBS_HOURS (13), QUERIES (1000), TSBS_SHAPE (integer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { generateTsbsCpuOnly, openTsdb, type Matcher } from '../src/index.js';
import { prng } from '../src/tsdb/tsbs.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const hosts = Number(process.env.TSBS_HOSTS ?? 100);
const hours = Number(process.env.TSBS_HOURS ?? 13);
const queries = Number(process.env.QUERIES ?? 1000);
const shape = (process.env.TSBS_SHAPE ?? 'integer') as 'integer' | 'decimal2';
const start = Date.UTC(2016, 0, 1);
const end = start + hours * HOUR;


const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
let scavenges = 0;
new PerformanceObserver((l) => void (scavenges += l.getEntries().length)).observe({ entryTypes: ['gc'] });

const dir = mkdtempSync(join(tmpdir(), 'tsdb-alloc-'));
const batches = [...generateTsbsCpuOnly({ hosts, hours, values: shape, batchTimestamps: 90 })];
const db = await openTsdb(dir, { wal: false, headMaxPoints: 2_000_000 });
for (const b of batches) await db.write(b);
await db.flush();
const names = Array.from({ length: hosts }, (_, h) => batches[0]!.series[h * 10]!.tags!['hostname']!);
const r = prng(0x7ab5);

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

/** JS-heap bytes allocated by `fn` over `n` calls (sampling heap profiler, collected objects included). */
async function sampled(n: number, fn: () => Promise<number>): Promise<number> {
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < n; i++) await fn();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  let bytes = 0;
  const walk = (node: { selfSize: number; children: unknown[] }): void => {
    bytes += node.selfSize;
    for (const c of node.children) walk(c as { selfSize: number; children: unknown[] });
  };
  walk(profile.head as unknown as { selfSize: number; children: unknown[] });
  return bytes;
}

const gc = (globalThis as { gc?: () => void }).gc;
for (const [name, fn] of [['groupby-orderby-limit', groupbyOrderbyLimit], ['high-cpu-1', highCpu1]] as const) {
  for (let i = 0; i < 1000; i++) await fn(); // warm-up (JIT tiers settle)
  gc?.();
  // 1. ArrayBuffer backing stores (off the JS heap) per query: growth of process.memoryUsage().arrayBuffers
  let ab = 0;
  const gcs0 = scavenges;
  for (let i = 0; i < queries; i++) {
    const m0 = process.memoryUsage();
    await fn();
    const m1 = process.memoryUsage();
    ab += m1.arrayBuffers - m0.arrayBuffers;
  }
  const clean = scavenges === gcs0;
  // 2. JS-heap allocations: the sampling heap profiler's total (heapUsed deltas also see JIT code and feedback)
  const sampledBytes = await sampled(queries, fn);
  console.log(JSON.stringify({ query: name, shape, hosts, hours, queries, clean, sampledHeapBytesPerQuery: Math.round(sampledBytes / queries), arrayBufferBytesPerQuery: Math.round(ab / queries) }));
}
await db.close();
rmSync(dir, { recursive: true, force: true });
