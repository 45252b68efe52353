import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { percentile, runBench, withRatios } from '../src/index.js';

describe('withRatios', () => {
  it('orients ratios so that > 1 means ours is better', () => {
    const faster = withRatios({ case: 'c', metric: 'ops', unit: 'ops/s', higherIsBetter: true, ours: 300, peers: { a: 100 } });
    expect(faster.ratio.a).toBe(3);
    const smaller = withRatios({ case: 'c', metric: 'size', unit: 'B', higherIsBetter: false, ours: 50, peers: { a: 100 } });
    expect(smaller.ratio.a).toBe(2);
  });
});

describe('percentile', () => {
  it('uses nearest rank', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

describe('runBench', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  it('prints one JSON line per result and merges results.json by case and metric', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-test-'));
    dirs.push(out);
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      lines.push(String(s));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await runBench('x', [{ name: 'one', run: (ctx) => void ctx.report({ metric: 'm', unit: 'u', higherIsBetter: true, ours: 2, peers: { p: 1 } }) }], { outDir: out, quick: true });
    await runBench('x', [{ name: 'two', run: (ctx) => void ctx.report({ metric: 'm', unit: 'u', higherIsBetter: false, ours: 1, peers: { p: 4 } }) }], { outDir: out, quick: true });
    expect(lines.map((l) => JSON.parse(l).case)).toEqual(['one', 'two']);
    const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(doc.results.map((r: { case: string; ratio: { p: number } }) => [r.case, r.ratio.p])).toEqual([
      ['one', 2],
      ['two', 4],
    ]);
  });
});
