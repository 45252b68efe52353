/**
 * Compares embedders on a BEIR folder with the same harness and retriever settings as `rag eval`:
 * dense alone, BM25 alone, and hybrid with the existing fusions (convex alpha sweep, weighted RRF), on
 * several qrels splits. Hyperparameters are picked on `train` only (best hybrid nDCG@10); report
 * `test` and `all` with the picked values.
 *
 *   node --import tsx scripts/eval-embedders.ts --dataset ../../../shared/data/cranfield [--embedders glove,lsa,lsa+glove]
 *        [--dims 128] [--bigrams 0.5] [--glove-weight 0.2] [--splits train,test,all] [--alphas 0.1,...] [--rrf-weights 0.3,...]
 *        [--fb-alphas 0.3,0.5] (DEFAULT_FUSION, i.e. its normalisation and query feedback, at these alphas) [--json out.json]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { blendEmbedders } from '../src/embed/blend-embedders.js';
import { createGloveEmbedder } from '../src/embed/glove-embedder.js';
import { createLsaEmbedder } from '../src/embed/lsa-embedder.js';
import { loadBeir } from '../src/eval/beir.js';
import { evaluateRetriever } from '../src/eval/run-eval.js';
import { createRetriever, DEFAULT_FUSION } from '../src/hybrid/retriever.js';
import type { Embedder, Fusion, SearchOptions } from '../src/retrieval-types.js';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    embedders: { type: 'string', default: 'glove,lsa,lsa+glove' },
    dims: { type: 'string', default: '128' },
    bigrams: { type: 'string' },
    'glove-weight': { type: 'string', default: '0.2' },
    splits: { type: 'string', default: 'train,test,all' },
    alphas: { type: 'string', default: '0.1,0.2,0.3,0.4,0.5,0.6,0.7' },
    'rrf-weights': { type: 'string', default: '0.3,0.5,1,2' },
    'fb-alphas': { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
if (values.dataset === undefined) throw new Error('--dataset is required');
const dataset = values.dataset;

const fusions: { name: string; fusion: Fusion }[] = [
  ...values.alphas.split(',').map((a) => ({ name: `convex ${a}`, fusion: { kind: 'convex', alpha: Number(a) } as Fusion })),
  ...values['rrf-weights'].split(',').map((w) => ({ name: `rrf w${w}`, fusion: { kind: 'rrf', k: 60, weights: { bm25: 1, dense: Number(w) } } as Fusion })),
];

// The retriever's DEFAULT_FUSION (normalisation and query feedback) with other alphas: a separate family.
const feedbackFusions = values['fb-alphas'] === '' ? [] : values['fb-alphas'].split(',').map((a) => ({ name: `default-fusion alpha ${a}`, fusion: { ...DEFAULT_FUSION, alpha: Number(a) } as Fusion }));

async function makeEmbedder(name: string, corpus: string[]): Promise<Embedder> {
  const dims = Number(values.dims);
  const gw = Number(values['glove-weight']);
  const bigrams = values.bigrams === undefined ? undefined : Number(values.bigrams);
  if (name === 'glove') return createGloveEmbedder();
  if (name === 'lsa') return createLsaEmbedder({ corpus, dimensions: dims, bigrams });
  if (name === 'lsa+glove') {
    return blendEmbedders([
      { embedder: await createLsaEmbedder({ corpus, dimensions: dims, bigrams }), weight: 1 - gw },
      { embedder: await createGloveEmbedder(), weight: gw },
    ]);
  }
  throw new Error(`unknown embedder ${name}`);
}

interface Row {
  embedder: string;
  split: string;
  system: string;
  ndcg10: number;
  recall100: number;
  mrr10: number;
}
const rows: Row[] = [];
const splits = values.splits.split(',');
for (const name of values.embedders.split(',')) {
  const base = await loadBeir(dataset, 'all');
  // The text embedded for a doc, as the retriever's default embedText (fields joined by a newline).
  const corpus = base.corpus.map((d) => [d.title, d.text].filter((s) => s !== undefined && s !== '').join('\n'));
  const t0 = performance.now();
  const embedder = await makeEmbedder(name, corpus);
  const fitMs = performance.now() - t0;
  const retriever = createRetriever({ fields: { title: { boost: 1 }, text: {} }, embedder });
  const t1 = performance.now();
  for (let i = 0; i < base.corpus.length; i += 256) {
    await retriever.add(base.corpus.slice(i, i + 256).map((d) => ({ id: d.id, fields: { title: d.title, text: d.text }, meta: d.metadata })));
  }
  const indexMs = performance.now() - t1;
  console.error(`${name}: ${embedder.id}, ${embedder.dimensions} d, fit ${fitMs.toFixed(0)} ms, index ${indexMs.toFixed(0)} ms`);
  for (const split of splits) {
    const data = await loadBeir(dataset, split);
    const run = async (system: string, search: Omit<SearchOptions, 'k' | 'signal'>): Promise<void> => {
      const res = await evaluateRetriever(retriever, data, { index: false, search });
      rows.push({ embedder: name, split, system, ...res.mean });
    };
    await run('dense', { mode: 'dense' });
    await run('bm25', { mode: 'bm25' });
    for (const f of fusions) await run(`hybrid ${f.name}`, { mode: 'hybrid', fusion: f.fusion });
    for (const f of feedbackFusions) await run(`fb ${f.name}`, { mode: 'hybrid', fusion: f.fusion });
    // The retriever's own default fusion (whatever DEFAULT_FUSION is in this tree), reported, never picked.
    await run('default-hybrid', { mode: 'hybrid' });
  }
  await retriever.close();
}

const get = (e: string, s: string, sys: string): Row | undefined => rows.find((r) => r.embedder === e && r.split === s && r.system === sys);
const fmt = (r: Row | undefined): string => (r === undefined ? '-' : `${r.ndcg10.toFixed(4)} / ${r.recall100.toFixed(4)} / ${r.mrr10.toFixed(4)}`);
for (const e of values.embedders.split(',')) {
  // Pick the fusion on train (best nDCG@10), report it on every split: plain fusions and, apart, fusions with feedback.
  for (const family of ['hybrid ', 'fb ']) {
    const train = rows.filter((r) => r.embedder === e && r.split === 'train' && r.system.startsWith(family));
    const picked = train.sort((a, b) => b.ndcg10 - a.ndcg10)[0]?.system;
    if (picked === undefined) continue;
    console.log(`\n## ${e} (picked on train: ${picked}); nDCG@10 / Recall@100 / MRR@10`);
    for (const s of splits) {
      const best = Math.max(get(e, s, 'dense')?.ndcg10 ?? 0, get(e, s, 'bm25')?.ndcg10 ?? 0);
      const h = get(e, s, picked);
      console.log(`${s.padEnd(5)} dense ${fmt(get(e, s, 'dense'))} | bm25 ${fmt(get(e, s, 'bm25'))} | ${picked} ${fmt(h)} | gain over the better single ${h === undefined ? '-' : (h.ndcg10 - best).toFixed(4)} | retriever default hybrid ${fmt(get(e, s, 'default-hybrid'))}`);
    }
    for (const s of splits) {
      console.log(`${s} sweep: ${rows.filter((r) => r.embedder === e && r.split === s && r.system.startsWith(family)).map((r) => `${r.system.slice(family.length)} ${r.ndcg10.toFixed(4)}`).join(', ')}`);
    }
  }
}
if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(rows, null, 1)}\n`);
