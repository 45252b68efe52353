import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetriever, evaluateRetriever, loadBeir } from '@dataplane/rag';
import { runCli } from '../src/cli-main.js';
import { evalCommand } from '../src/eval/cli-eval.js';

const CRANFIELD = fileURLToPath(new URL('../../../../shared/data/cranfield', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tinyDataset(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rag-beir-'));
  dirs.push(dir);
  await mkdir(join(dir, 'qrels'));
  const corpus = [
    { _id: 'd1', title: 'Wings', text: 'lift of swept wings', metadata: { author: 'x' } },
    { _id: 'd2', title: 'Heat', text: 'heat transfer at the nose' },
    { _id: 'd3', title: 'Flow', text: 'supersonic flow and shocks' },
  ];
  await writeFile(join(dir, 'corpus.jsonl'), corpus.map((c) => JSON.stringify(c)).join('\n'));
  await writeFile(join(dir, 'queries.jsonl'), [{ _id: 'q1', text: 'swept wing lift' }, { _id: 'q2', text: 'shock flow' }].map((q) => JSON.stringify(q)).join('\n'));
  await writeFile(join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td3\t1\nq2\td2\t1\n');
  return dir;
}

function io(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (t: string) => void; tty: boolean } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (t) => err.push(t), tty: false } };
}

describe('eval harness', () => {
  it('loads BEIR and computes hand-checkable metrics', async () => {
    const data = await loadBeir(await tinyDataset());
    expect(data.corpus).toHaveLength(3);
    const res = await evaluateRetriever(createRetriever({ fields: { title: {}, text: {} } }), data);
    // q1: d1 at rank 1 -> 1; q2: d3 at rank 1, d2 not retrieved -> nDCG = 1 / (1 + 1/log2(3))
    expect(res.perQuery.get('q1')).toEqual({ ndcg10: 1, recall100: 1, mrr10: 1 });
    expect(res.perQuery.get('q2')?.ndcg10).toBeCloseTo(1 / (1 + 1 / Math.log2(3)), 12);
    expect(res.perQuery.get('q2')?.recall100).toBe(0.5);
  });

  it('the CLI prints metrics and progress, and reports errors with a code', async () => {
    const dir = await tinyDataset();
    const a = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'none', '--json'], a.io)).toBe(0);
    const line = JSON.parse(a.out[0] ?? '{}') as { ndcg10: number; queries: number };
    expect(line.queries).toBe(2);
    expect(line.ndcg10).toBeCloseTo((1 + 1 / (1 + 1 / Math.log2(3))) / 2, 12);
    expect(a.err.join('')).toContain('querying 2/2');
    const b = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', join(dir, 'nope'), '--embedder', 'none'], b.io)).toBe(1);
    expect(b.err.join('')).toContain('RAG_DATASET_INVALID');
    const c = io();
    expect(await runCli({ eval: evalCommand }, ['frobnicate'], c.io)).toBe(2);
    expect(c.out.join('\n')).toContain('eval');
  });

  it('the CLI takes feedback and normalisation flags and rejects unknown values', async () => {
    const dir = await tinyDataset();
    const a = io();
    const args = ['eval', '--dataset', dir, '--embedder', 'none', '--mode', 'bm25', '--feedback', 'rm3', '--rm3-docs', '1', '--rm3-terms', '5', '--json'];
    expect(await runCli({ eval: evalCommand }, args, a.io)).toBe(0);
    expect(JSON.parse(a.out[0] ?? '{}')).toMatchObject({ mode: 'bm25', feedback: 'rm3', queries: 2 });
    const b = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'none', '--feedback', 'sometimes'], b.io)).toBe(1);
    expect(b.err.join('')).toContain('RAG_INVALID_ARGUMENT');
    const c = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'none', '--normalization', 'l2'], c.io)).toBe(1);
    expect(c.err.join('')).toContain('--normalization');
    const d = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'word2vec'], d.io)).toBe(1);
    expect(d.err.join('')).toContain('--embedder');
    // the corpus-adapted LSA embedder is fitted on the dataset's documents before indexing
    const e = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'lsa', '--lsa-dims', '2', '--json'], e.io)).toBe(0);
    expect(JSON.parse(e.out[0] ?? '{}')).toMatchObject({ mode: 'hybrid', feedback: 'both', queries: 2, embedder: expect.stringMatching(/^lsa-/) });
    // --fusion lsa starts from LSA_FUSION: the LSA embedder, z-score alpha 0.6 and RM3 only, unless flags say otherwise
    const f = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--fusion', 'lsa', '--lsa-dims', '2', '--json'], f.io)).toBe(0);
    expect(JSON.parse(f.out[0] ?? '{}')).toMatchObject({
      feedback: 'rm3',
      embedder: expect.stringMatching(/^lsa-/),
      fusion: { kind: 'convex', alpha: 0.6, normalization: 'zscore', feedback: { rm3: { docs: 5, terms: 40, originalWeight: 0.6 }, dense: false } },
    });
    const g = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--fusion', 'lsa', '--alpha', '0.4', '--feedback', 'none', '--lsa-dims', '2', '--json'], g.io)).toBe(0);
    expect(JSON.parse(g.out[0] ?? '{}')).toMatchObject({ feedback: 'none', fusion: { alpha: 0.4, feedback: { rm3: false, dense: false } } });
    // --fusion lsa2 starts from LSA_TWO_PASS_FUSION: word pairs and a fused first pass feeding the LSA query
    const l = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--fusion', 'lsa2', '--lsa-dims', '2', '--json'], l.io)).toBe(0);
    expect(JSON.parse(l.out[0] ?? '{}')).toMatchObject({
      feedback: 'rm3',
      queries: 2,
      embedder: expect.stringMatching(/^lsa-/),
      fusion: { kind: 'convex', alpha: 0.7, normalization: 'zscore', pairs: 0.2, firstPass: { alpha: 0.6, pairs: 0.2, docs: 3, beta: 1 } },
    });
    const h = io();
    expect(await runCli({ eval: evalCommand }, ['eval', '--dataset', dir, '--embedder', 'none', '--fusion', 'linear'], h.io)).toBe(1);
    expect(h.err.join('')).toContain('--fusion');
  });

  // Quality on the judged Cranfield collection (../shared/data); see the package README for the figures.
  it.skipIf(!existsSync(CRANFIELD))('BM25 on Cranfield (all qrels) reaches the measured level', async () => {
    const data = await loadBeir(CRANFIELD, 'all');
    const res = await evaluateRetriever(createRetriever({ fields: { title: {}, text: {} } }), data, { search: { mode: 'bm25' } });
    expect(res.queries).toBe(225);
    expect(res.mean.ndcg10).toBeGreaterThan(0.52);
    expect(res.mean.recall100).toBeGreaterThan(0.74);
  }, 120_000);
});
