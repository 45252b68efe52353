import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { BalancerError } from '../errors.js';
import { renderSvg, simulateScenario } from './report.js';
import { resolveScenario } from './scenario.js';

/** @internal One CLI command. */
export interface CliCommand {
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** @internal Output streams of the CLI (injectable for tests). */
export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly isTty: boolean;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `${name} needs a value`);
  return v;
}

/** @internal `simulate --scenario <file> [--out <dir>] [--seed <n>]`. */
export const simulateCommand: CliCommand = {
  summary: 'run a cluster simulation scenario, write JSON and SVG',
  usage: 'simulate --scenario <file.json> [--out <dir>] [--seed <n>]',
  async run(args, io) {
    const file = flag(args, '--scenario');
    if (file === undefined) throw new BalancerError('BALANCER_INVALID_ARGUMENT', '--scenario <file> is required');
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', `cannot read scenario ${file}`, { cause });
    }
    const seed = flag(args, '--seed');
    if (seed !== undefined && typeof raw === 'object' && raw !== null) (raw as Record<string, unknown>).seed = Number(seed);
    const scenario = resolveScenario(raw);
    const outDir = resolve(flag(args, '--out') ?? '.');
    const started = Date.now();
    let lastLine = 0;
    const report = simulateScenario(scenario, (done, total, label) => {
      const pct = Math.floor((done / total) * 100);
      if (io.isTty) {
        const bar = '#'.repeat(Math.floor(pct / 5)).padEnd(20, '.');
        io.err(`\r[${bar}] ${String(pct).padStart(3)}% ${done}/${total} ${label.padEnd(20)}`);
      } else if (done === total || Date.now() - lastLine > 2000) {
        lastLine = Date.now();
        io.err(`simulate: ${done}/${total} runs (${label})\n`);
      }
    });
    if (io.isTty) io.err('\n');
    await mkdir(outDir, { recursive: true });
    const stem = basename(file, extname(file));
    const jsonPath = join(outDir, `${stem}.result.json`);
    const svgPath = join(outDir, `${stem}.svg`);
    await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
    await writeFile(svgPath, renderSvg(report));
    io.out(`routing               p50 ms   p90 ms   p99 ms   skew   min pods\n`);
    for (const r of report.runs) {
      const mp = report.minPods[r.routing];
      io.out(
        `${r.routing.padEnd(20)} ${r.p50Ms.toFixed(1).padStart(7)}  ${r.p90Ms.toFixed(1).padStart(7)}  ${r.p99Ms
          .toFixed(1)
          .padStart(7)}  ${r.skew.toFixed(2).padStart(5)}   ${mp === undefined ? '-' : mp === null ? 'not met' : String(mp)}\n`,
      );
    }
    io.out(`wrote ${jsonPath} and ${svgPath} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  },
};
