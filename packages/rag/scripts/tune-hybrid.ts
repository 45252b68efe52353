/**
 * Tunes multi-signal hybrids on a BEIR folder's `train` split and reports them on `test` and `all`, against
 * every single signal measured the same way (same harness, same splits, same embedders).
 *
 * Signals, each scored exactly for every document of the collection (1,400 on Cranfield):
 * - `bm25`: BM25F over title + text (k1 1.2, b 0.75, as `rag eval`); `rm3`: the same after RM3 expansion
 *   (5 docs, 40 terms, original weight 0.6, the retriever's defaults);
 * - `lsa`: cosine with the corpus-adapted LSA embedder (defaults: 128 d, word pairs at 0.5);
 *   `lsa-prf`: the same query after Rocchio feedback from the top 3 of `rm3` (beta 2, as the retriever);
 * - `glove`: cosine with the bundled GloVe SIF embedder;
 * - `pairs`: BM25 over consecutive analysed-term pairs ("boundary_layer") of title + text, no feedback.
 *
 * A hybrid scores the union of the top 100 of its lexical and its LSA signal (as the retriever's candidates),
 * z-scores each signal over those candidates and sums them with weights: `(1 - alpha) * lexical + alpha * lsa
 * + wGlove * glove + wPairs * pairs`. Families (each picked on train by nDCG@10, then reported):
 *   A. lexical (bm25 | rm3) + dense (lsa | lsa-prf), alpha 0.3-0.8: what `createRetriever` fuses (LSA_FUSION);
 *   B. A + GloVe as a third, separately normalised signal (weight 0.05-0.3);
 *   C. A + pairs as a third signal (weight 0.05-0.3);
 *   D. A + GloVe + pairs.
 * B-D are offline fusions (the retriever fuses one lexical and one dense signal); family A reproduces
 * `rag eval --fusion lsa` exactly.
 *
 *   node --import tsx scripts/tune-hybrid.ts --dataset ../../../shared/data/cranfield [--json out.json]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { getAnalyzer } from '../src/analysis/analyzer.js';
import { createGloveEmbedder } from '../src/embed/glove-embedder.js';
import { createLsaEmbedder } from '../src/embed/lsa-embedder.js';
import { loadBeir } from '../src/eval/beir.js';
import { evaluateRun, type Qrels, type RunEntry } from '../src/eval/metrics.js';
import { densePrf } from '../src/hybrid/feedback.js';
import { createRetriever } from '../src/hybrid/retriever.js';
import type { Analyzer, Embedder, Token } from '../src/retrieval-types.js';

const { values } = parseArgs({ options: { dataset: { type: 'string' }, json: { type: 'string' } } });
if (values.dataset === undefined) throw new Error('--dataset is required');
const dataset = values.dataset;

const all = await loadBeir(dataset, 'all');
const splits: Record<string, Qrels> = { train: (await loadBeir(dataset, 'train')).qrels, test: (await loadBeir(dataset, 'test')).qrels, all: all.qrels };
const docs = all.corpus;
const nd = docs.length;
const docIndex = new Map(docs.map((d, i) => [d.id, i]));
const qids = [...all.qrels.keys()].filter((q) => all.queries.has(q));
const nq = qids.length;
const queryText = (q: number): string => all.queries.get(qids[q] as string) as string;
const texts = docs.map((d) => [d.title, d.text].filter((s) => s !== '').join('\n'));
type Signal = Float64Array; // nq x nd scores

async function lexical(fields: Parameters<typeof createRetriever>[0]['fields'], rm3: boolean): Promise<Signal> {
  const r = createRetriever({ fields });
  await r.add(docs.map((d) => ({ id: d.id, fields: Object.fromEntries(Object.keys(fields).map((f) => [f, f === 'title' ? d.title : d.text])) })));
  const m = new Float64Array(nq * nd);
  for (let q = 0; q < nq; q++) {
    const hits = await r.search(queryText(q), { mode: 'bm25', k: nd, feedback: rm3 ? { rm3: {} } : false });
    for (const h of hits) m[q * nd + (docIndex.get(h.id) as number)] = h.score;
  }
  await r.close();
  return m;
}

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const out = new Float32Array(v.length);
  if (n > 0) for (let j = 0; j < v.length; j++) out[j] = (v[j] as number) / Math.sqrt(n);
  return out;
}

interface Vectors {
  dv: Float32Array[];
  qv: Float32Array[];
}
async function embedAll(e: Embedder): Promise<Vectors> {
  return { dv: (await e.embed(texts)).map(unit), qv: await e.embed(qids.map((_, q) => queryText(q))) };
}
/** Cosines of every query with every document; with `feedback`, after Rocchio feedback from those documents. */
function denseSignal({ dv, qv }: Vectors, feedback?: (q: number) => number[], beta = 2): Signal {
  const m = new Float64Array(nq * nd);
  for (let q = 0; q < nq; q++) {
    let v = qv[q] as Float32Array;
    if (feedback !== undefined) v = densePrf(v, feedback(q).map((d) => dv[d] as Float32Array), beta);
    const u = unit(v);
    for (let d = 0; d < nd; d++) {
      const b = dv[d] as Float32Array;
      let s = 0;
      for (let j = 0; j < u.length; j++) s += (u[j] as number) * (b[j] as number);
      m[q * nd + d] = s;
    }
  }
  return m;
}

function top(m: Signal, q: number, k: number): number[] {
  const idx = Array.from({ length: nd }, (_, d) => d);
  idx.sort((a, b) => (m[q * nd + b] as number) - (m[q * nd + a] as number) || a - b);
  return idx.slice(0, k);
}

/** Consecutive analysed-term pairs of the english analyzer (stop words skipped), as terms. */
const english = getAnalyzer('english');
const pairAnalyzer: Analyzer = {
  name: 'english-pairs',
  analyze(text) {
    const toks = english.analyze(text);
    const out: Token[] = [];
    for (let i = 1; i < toks.length; i++) {
      const a = toks[i - 1] as Token;
      const b = toks[i] as Token;
      out.push({ term: `${a.term}_${b.term}`, position: i - 1, start: a.start, end: b.end });
    }
    return out;
  },
};

interface Part {
  m: Signal;
  w: number;
}
function fuseRun(parts: Part[], candFrom: Signal[]): Map<string, RunEntry[]> {
  const run = new Map<string, RunEntry[]>();
  for (let q = 0; q < nq; q++) {
    const cand = [...new Set(candFrom.flatMap((m) => top(m, q, 100)))];
    const fused = new Float64Array(cand.length);
    for (const p of parts) {
      if (p.w === 0) continue;
      const vals = cand.map((d) => p.m[q * nd + d] as number);
      const mean = vals.reduce((s, x) => s + x, 0) / vals.length;
      const sd = Math.sqrt(vals.reduce((s, x) => s + (x - mean) ** 2, 0) / vals.length);
      vals.forEach((x, i) => (fused[i] = (fused[i] as number) + (sd > 0 ? (p.w * (x - mean)) / sd : 0)));
    }
    const order = cand.map((d, i) => ({ d, s: fused[i] as number })).sort((a, b) => b.s - a.s || a.d - b.d);
    run.set(qids[q] as string, order.slice(0, 100).map((o) => ({ id: (docs[o.d] as { id: string }).id, score: o.s })));
  }
  return run;
}
/** Two-sided paired randomisation test (sign flips of per-query nDCG@10 differences) on a split; seeded. */
function pValue(x: Map<string, RunEntry[]>, y: Map<string, RunEntry[]>, qrels: Qrels, flips = 20_000): number {
  const px = evaluateRun(x, qrels).perQuery;
  const py = evaluateRun(y, qrels).perQuery;
  const diffs = [...px].map(([q, m]) => m.ndcg10 - (py.get(q)?.ndcg10 ?? 0));
  const observed = Math.abs(diffs.reduce((s, d) => s + d, 0));
  let seed = 12345;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let hits = 0;
  for (let i = 0; i < flips; i++) {
    let sum = 0;
    for (const d of diffs) sum += rand() < 0.5 ? -d : d;
    if (Math.abs(sum) >= observed - 1e-12) hits++;
  }
  return (hits + 1) / (flips + 1);
}
/** The fused top documents (indexes) of every query, best first. */
function fusedTop(parts: Part[], candFrom: Signal[], k: number): number[][] {
  const run = fuseRun(parts, candFrom);
  return qids.map((q) => (run.get(q) ?? []).slice(0, k).map((e) => docIndex.get(e.id) as number));
}
function single(m: Signal): Map<string, RunEntry[]> {
  return fuseRun([{ m, w: 1 }], [m]);
}
type Scores = Record<string, { ndcg10: number; recall100: number; mrr10: number }>;
function evaluate(run: Map<string, RunEntry[]>): Scores {
  return Object.fromEntries(Object.entries(splits).map(([s, qr]) => [s, evaluateRun(run, qr).mean]));
}

const t0 = performance.now();
const S = {
  bm25: await lexical({ title: {}, text: {} }, false),
  rm3: await lexical({ title: {}, text: {} }, true),
  pairs: await lexical({ title: { analyzer: pairAnalyzer }, text: { analyzer: pairAnalyzer } }, false),
} as Record<string, Signal>;
const lsa = await createLsaEmbedder({ corpus: texts });
const lsaVectors = await embedAll(lsa);
S.lsa = denseSignal(lsaVectors);
S['lsa-prf'] = denseSignal(lsaVectors, (q) => top(S.rm3 as Signal, q, 3));
S.glove = denseSignal(await embedAll(await createGloveEmbedder()));
console.error(`signals in ${((performance.now() - t0) / 1000).toFixed(0)} s (LSA model ${lsa.id})`);

const fmt = (s: Scores, k: 'ndcg10' | 'recall100' | 'mrr10' = 'ndcg10'): string => ['train', 'test', 'all'].map((x) => (s[x]?.[k] ?? 0).toFixed(4)).join(' / ');
const singles: Record<string, Scores> = {};
console.log('## single signals, nDCG@10 train / test / all');
for (const name of ['bm25', 'rm3', 'lsa', 'lsa-prf', 'glove', 'pairs']) {
  singles[name] = evaluate(single(S[name] as Signal));
  console.log(`${name.padEnd(8)} ${fmt(singles[name])}  (Recall@100 ${fmt(singles[name], 'recall100')})`);
}

interface Config {
  lex: string;
  dense: string;
  alpha: number;
  glove: number;
  pairs: number;
}
const alphas = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
const extra = [0.05, 0.1, 0.2, 0.3];
const base: Config[] = [];
for (const [lex, dense] of [['bm25', 'lsa'], ['rm3', 'lsa'], ['bm25', 'lsa-prf'], ['rm3', 'lsa-prf']] as const) for (const alpha of alphas) base.push({ lex, dense, alpha, glove: 0, pairs: 0 });
const families: Record<string, Config[]> = {
  'A lexical + LSA': base,
  'B + GloVe': base.flatMap((c) => extra.map((glove) => ({ ...c, glove }))),
  'C + pairs': base.flatMap((c) => extra.map((pairs) => ({ ...c, pairs }))),
  'D + GloVe + pairs': base.flatMap((c) => extra.flatMap((glove) => extra.map((pairs) => ({ ...c, glove, pairs })))),
};
const name = (c: Config): string => `${c.lex} x${(1 - c.alpha).toFixed(2)} + ${c.dense} x${c.alpha}${c.glove > 0 ? ` + glove x${c.glove}` : ''}${c.pairs > 0 ? ` + pairs x${c.pairs}` : ''}`;
const report: Record<string, unknown> = { singles };
const bestSingle = (split: string): number => Math.max(singles.bm25?.[split]?.ndcg10 ?? 0, singles.lsa?.[split]?.ndcg10 ?? 0);
const bestFed = (split: string): number => Math.max(singles.rm3?.[split]?.ndcg10 ?? 0, singles['lsa-prf']?.[split]?.ndcg10 ?? 0);
for (const [family, configs] of Object.entries(families)) {
  let best: { c: Config; s: Scores; run: Map<string, RunEntry[]> } | undefined;
  for (const c of configs) {
    const parts: Part[] = [
      { m: S[c.lex] as Signal, w: 1 - c.alpha },
      { m: S[c.dense] as Signal, w: c.alpha },
      { m: S.glove as Signal, w: c.glove },
      { m: S.pairs as Signal, w: c.pairs },
    ];
    const run = fuseRun(parts, [S[c.lex] as Signal, S[c.dense] as Signal]);
    const s = evaluate(run);
    if (best === undefined || (s.train?.ndcg10 ?? 0) > (best.s.train?.ndcg10 ?? 0)) best = { c, s, run };
  }
  if (best === undefined) continue;
  const gain = (f: (s: string) => number): string => ['train', 'test', 'all'].map((x) => ((best.s[x]?.ndcg10 ?? 0) - f(x)).toFixed(4)).join(' / ');
  console.log(`\n## ${family}: ${configs.length} configurations, picked on train: ${name(best.c)}`);
  console.log(`nDCG@10 ${fmt(best.s)}  Recall@100 ${fmt(best.s, 'recall100')}  MRR@10 ${fmt(best.s, 'mrr10')}`);
  console.log(`gain over the better of BM25 and LSA dense: ${gain(bestSingle)}; over the better fed-back single (BM25+RM3, LSA+PRF): ${gain(bestFed)}`);
  const p = Object.fromEntries(['lsa', 'rm3', 'lsa-prf'].map((n) => [n, pValue(best.run, single(S[n] as Signal), all.qrels)]));
  console.log(`paired randomisation test on all (20,000 sign flips), p vs ${Object.entries(p).map(([n, v]) => `${n} ${v.toFixed(4)}`).join(', ')}`);
  report[family] = { picked: best.c, scores: best.s, pAll: p };
}
// E. Two passes: the fused first pass (RM3 + LSA + pairs) gives the dense query Rocchio feedback (its top k
// documents, weight beta); the second pass fuses RM3, that fed-back LSA signal and pairs (180 configurations).
{
  let best: { name: string; s: Scores; run: Map<string, RunEntry[]> } | undefined;
  let n = 0;
  for (const [fa, fw] of [[0.5, 0], [0.6, 0], [0.5, 0.2], [0.6, 0.2], [0.7, 0.2]] as const) {
    const firstParts: Part[] = [
      { m: S.rm3 as Signal, w: 1 - fa },
      { m: S.lsa as Signal, w: fa },
      { m: S.pairs as Signal, w: fw },
    ];
    const first = fusedTop(firstParts, [S.rm3 as Signal, S.lsa as Signal], 5);
    for (const [k, beta] of [[3, 1], [3, 2], [5, 1]] as const) {
      const fed = denseSignal(lsaVectors, (q) => (first[q] as number[]).slice(0, k), beta);
      for (const a of [0.5, 0.6, 0.7]) {
        for (const wp of [0, 0.1, 0.2, 0.3]) {
          n++;
          const run = fuseRun([{ m: S.rm3 as Signal, w: 1 - a }, { m: fed, w: a }, { m: S.pairs as Signal, w: wp }], [S.rm3 as Signal, fed]);
          const s = evaluate(run);
          const name = `first pass rm3 x${(1 - fa).toFixed(1)} + lsa x${fa}${fw > 0 ? ` + pairs x${fw}` : ''}; LSA Rocchio from its top ${k} (beta ${beta}); rm3 x${(1 - a).toFixed(1)} + fed-back lsa x${a}${wp > 0 ? ` + pairs x${wp}` : ''}`;
          if (best === undefined || (s.train?.ndcg10 ?? 0) > (best.s.train?.ndcg10 ?? 0)) best = { name, s, run };
        }
      }
    }
  }
  if (best !== undefined) {
    const b = best;
    const gain = (f: (s: string) => number): string => ['train', 'test', 'all'].map((x) => ((b.s[x]?.ndcg10 ?? 0) - f(x)).toFixed(4)).join(' / ');
    console.log(`\n## E two passes (hybrid feedback for the dense query): ${n} configurations, picked on train: ${b.name}`);
    console.log(`nDCG@10 ${fmt(b.s)}  Recall@100 ${fmt(b.s, 'recall100')}  MRR@10 ${fmt(b.s, 'mrr10')}`);
    console.log(`gain over the better of BM25 and LSA dense: ${gain(bestSingle)}; over the better fed-back single (BM25+RM3, LSA+PRF): ${gain(bestFed)}`);
    const p = Object.fromEntries(['lsa', 'rm3', 'lsa-prf'].map((x) => [x, pValue(b.run, single(S[x] as Signal), all.qrels)]));
    console.log(`paired randomisation test on all (20,000 sign flips), p vs ${Object.entries(p).map(([x, v]) => `${x} ${v.toFixed(4)}`).join(', ')}`);
    report['E two passes'] = { picked: b.name, scores: b.s, pAll: p };
  }
}
if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(report, null, 1)}\n`);
