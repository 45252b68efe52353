/**
 * The benchmark harness (DESIGN.md §7).
 *
 * Each package's `bench/run.ts` calls {@link runBench} with its cases. A case runs ours and every peer
 * in the same process, on the same data, and reports one {@link BenchResult} per metric. The harness
 * prints one JSON line per result on stdout, shows progress on stderr when it is a terminal, and merges
 * the results into `packages/<pkg>/bench/results.json` (keyed by case + metric).
 *
 * Environment: `BENCH_QUICK=1` asks cases for a short run (< 60 s per package);
 * `BENCH_FILTER=substr` runs only the cases whose name contains `substr`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { round } from './stats.js';

export { percentile, mean, round } from './stats.js';

/** One measured metric of one case, ours beside each peer. */
export interface BenchResult {
  case: string;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  ours: number;
  peers: Record<string, number>;
  /** ours/peer oriented so that > 1 means we are better. */
  ratio: Record<string, number>;
  /** Free-form context: data size, durability mode of each peer, goal, etc. */
  notes?: Record<string, string | number | boolean>;
}

export type BenchReport = Omit<BenchResult, 'ratio'>;

/** Computes the ratio map so that > 1 always means "ours is better". */
export function withRatios(r: BenchReport): BenchResult {
  const ratio: Record<string, number> = {};
  for (const [name, peer] of Object.entries(r.peers)) {
    const raw = r.higherIsBetter ? r.ours / peer : peer / r.ours;
    ratio[name] = round(raw, 3);
  }
  return {
    case: r.case,
    metric: r.metric,
    unit: r.unit,
    higherIsBetter: r.higherIsBetter,
    ours: round(r.ours),
    peers: Object.fromEntries(Object.entries(r.peers).map(([k, v]) => [k, round(v)])),
    ratio,
    ...(r.notes ? { notes: r.notes } : {}),
  };
}

export interface BenchContext {
  /** True under BENCH_QUICK=1: use small data. */
  readonly quick: boolean;
  /** Report one metric of this case. */
  report(r: Omit<BenchReport, 'case'> & { case?: string }): BenchResult;
  /** Progress of the running case (shown on a terminal only). */
  progress(label: string, done: number, total: number): void;
  /** A fresh temporary directory, removed when the case ends. */
  tmpDir(prefix?: string): string;
}

export interface BenchCase {
  name: string;
  run(ctx: BenchContext): Promise<void> | void;
}

export interface RunBenchOptions {
  /** Folder where results.json is written. Defaults to `<cwd>/bench`. */
  outDir?: string;
  quick?: boolean;
  filter?: string;
}

/** Total bytes of the files under `path` (recursive). */
export function dirSize(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(path)) total += dirSize(join(path, name));
  return total;
}

/** Runs `fn` and returns elapsed milliseconds (high resolution). */
export async function timeMs(fn: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function progressWriter() {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (caseName: string, label: string, done: number, total: number) => {
    if (!tty) return;
    const now = Date.now();
    if (now - last < 100 && done < total) return;
    last = now;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    process.stderr.write(`\r\x1b[2K${caseName} ${bar} ${pct}% ${label}`);
    if (done >= total) process.stderr.write('\n');
  };
}

/**
 * Runs the cases of one package in order, prints JSON lines and merges results.json.
 */
export async function runBench(pkg: string, cases: BenchCase[], options: RunBenchOptions = {}): Promise<BenchResult[]> {
  const quick = options.quick ?? process.env.BENCH_QUICK === '1';
  const filter = options.filter ?? process.env.BENCH_FILTER ?? '';
  const outDir = options.outDir ?? join(process.cwd(), 'bench');
  const show = progressWriter();
  const all: BenchResult[] = [];
  const selected = cases.filter((c) => c.name.includes(filter));
  if (selected.length === 0) {
    process.stderr.write(`[bench ${pkg}] no case matches BENCH_FILTER=${filter}\n`);
    return all;
  }
  for (const [i, c] of selected.entries()) {
    process.stderr.write(`[bench ${pkg}] (${i + 1}/${selected.length}) ${c.name}${quick ? ' (quick)' : ''}\n`);
    const tmp: string[] = [];
    const ctx: BenchContext = {
      quick,
      report(r) {
        // each result says whether it came from a quick run (results.json merges quick and full runs)
        const res = withRatios({ ...r, case: r.case ?? c.name, notes: { ...r.notes, quick } });
        all.push(res);
        process.stdout.write(`${JSON.stringify(res)}\n`);
        return res;
      },
      progress(label, done, total) {
        show(c.name, label, done, total);
      },
      tmpDir(prefix = 'bench-') {
        const d = mkdtempSync(join(tmpdir(), `dataplane-${prefix}`));
        tmp.push(d);
        return d;
      },
    };
    try {
      await c.run(ctx);
    } finally {
      for (const d of tmp) rmSync(d, { recursive: true, force: true });
    }
  }
  mergeResults(join(outDir, 'results.json'), all, quick);
  return all;
}

function mergeResults(file: string, fresh: BenchResult[], quick: boolean): void {
  let previous: BenchResult[] = [];
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { results?: BenchResult[] };
      previous = parsed.results ?? [];
    } catch {
      previous = [];
    }
  }
  const key = (r: BenchResult) => `${r.case}\u0000${r.metric}`;
  const byKey = new Map(previous.map((r) => [key(r), r]));
  for (const r of fresh) byKey.set(key(r), r);
  mkdirSync(join(file, '..'), { recursive: true });
  const doc = {
    generatedAt: new Date().toISOString(),
    quick,
    machine: { node: process.version, platform: process.platform, arch: process.arch },
    results: [...byKey.values()],
  };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}
