import { create, insertMultiple, search as oramaSearch } from '@orama/orama';
import { percentile, type BenchCase } from '@dataplane/bench';
import { createGloveEmbedder, createRetriever, DEFAULT_FUSION, evaluateRetriever, type Fusion } from '../src/index.js';
import { cranfield } from './data.js';

/**
 * Hybrid on Cranfield with the bundled GloVe SIF embedder: nDCG@10 of BM25, dense (each without and with
 * pseudo-relevance feedback) and several fusions (weighted RRF, convex with min-max / z-score, with and
 * without feedback), and hybrid query latency against Orama's hybrid mode on the same vectors.
 */
export const hybridCranfield: BenchCase = {
  name: 'hybrid-cranfield',
  async run(ctx) {
    const data = await cranfield();
    const embedder = await createGloveEmbedder();
    const r = createRetriever({ fields: { title: {}, text: {} }, embedder });
    const t0 = performance.now();
    const base = await evaluateRetriever(r, data, { search: { mode: 'bm25' } });
    const buildMs = performance.now() - t0;
    const dense = await evaluateRetriever(r, data, { index: false, search: { mode: 'dense' } });
    const rm3 = DEFAULT_FUSION.feedback === false ? undefined : DEFAULT_FUSION.feedback?.rm3;
    const dprf = DEFAULT_FUSION.feedback === false ? undefined : DEFAULT_FUSION.feedback?.dense;
    const bm25Rm3 = await evaluateRetriever(r, data, { index: false, search: { mode: 'bm25', feedback: { rm3 } } });
    const densePrf = await evaluateRetriever(r, data, { index: false, search: { mode: 'dense', feedback: { dense: dprf } } });
    for (const [label, res] of [['bm25 + RM3', bm25Rm3], ['dense + PRF from BM25', densePrf]] as const) {
      ctx.report({
        metric: `nDCG@10 single signal ${label}`,
        unit: 'nDCG',
        higherIsBetter: true,
        ours: res.mean.ndcg10,
        peers: { 'ours bm25': base.mean.ndcg10, 'ours dense (GloVe SIF)': dense.mean.ndcg10 },
        notes: { recall100: Number(res.mean.recall100.toFixed(4)) },
      });
    }
    const fusions: [string, Fusion][] = [
      ['rrf w_dense=1', { kind: 'rrf', k: 60, weights: { bm25: 1, dense: 1 } }],
      ['rrf w_dense=0.2', { kind: 'rrf', k: 60, weights: { bm25: 1, dense: 0.2 } }],
      ['rrf w_dense=0.05', { kind: 'rrf', k: 60, weights: { bm25: 1, dense: 0.05 } }],
      ['convex minmax alpha=0.3', { kind: 'convex', alpha: 0.3 }],
      ['convex minmax alpha=0.1 (previous default)', { kind: 'convex', alpha: 0.1 }],
      ['convex zscore alpha=0.1, no feedback', { kind: 'convex', alpha: 0.1, normalization: 'zscore' }],
      ['convex zscore alpha=0.1 + dense PRF only', { kind: 'convex', alpha: 0.1, normalization: 'zscore', feedback: { dense: dprf } }],
      [`default (zscore alpha=${DEFAULT_FUSION.kind === 'convex' ? DEFAULT_FUSION.alpha : '?'} + RM3 + dense PRF)`, DEFAULT_FUSION],
    ];
    if (ctx.quick) fusions.splice(0, 3, fusions[0] as [string, Fusion]);
    // the goal compares with the better single signal WITHOUT feedback; gainOverRm3 shows what fusion adds beyond lexical PRF
    const best = Math.max(base.mean.ndcg10, dense.mean.ndcg10);
    for (const [label, fusion] of fusions) {
      const h = await evaluateRetriever(r, data, { index: false, search: { mode: 'hybrid', fusion } });
      ctx.report({
        metric: `nDCG@10 hybrid ${label}`,
        unit: 'nDCG',
        higherIsBetter: true,
        ours: h.mean.ndcg10,
        peers: { 'ours bm25': base.mean.ndcg10, 'ours dense (GloVe SIF)': dense.mean.ndcg10 },
        notes: { gainOverBest: Number((h.mean.ndcg10 - best).toFixed(4)), gainOverBm25Rm3: Number((h.mean.ndcg10 - bm25Rm3.mean.ndcg10).toFixed(4)), goal: '+0.03 over the better single signal', recall100: Number(h.mean.recall100.toFixed(4)) },
      });
    }
    // hybrid latency vs Orama hybrid (same GloVe vectors)
    const vectors = await embedder.embed(data.corpus.map((d) => `${d.title}\n${d.text}`));
    const db = create({ schema: { id: 'string', title: 'string', text: 'string', embedding: 'vector[100]' } as const });
    await insertMultiple(
      db,
      data.corpus.map((d, i) => ({ id: d.id, title: d.title, text: d.text, embedding: Array.from(vectors[i] as Float32Array) })),
      1000,
    );
    const qids = [...data.qrels.keys()];
    const qv = await embedder.embed(qids.map((q) => data.queries.get(q) ?? ''));
    const rounds = ctx.quick ? 1 : 3;
    const latOurs: number[] = [];
    const latPlain: number[] = [];
    const latOrama: number[] = [];
    const plain: Fusion = { kind: 'convex', alpha: 0.1, normalization: 'zscore' };
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < qids.length; i++) {
        const q = data.queries.get(qids[i] as string) ?? '';
        let t = performance.now();
        await r.search(q, { k: 10, mode: 'hybrid' });
        latOurs.push(performance.now() - t);
        t = performance.now();
        await r.search(q, { k: 10, mode: 'hybrid', fusion: plain });
        latPlain.push(performance.now() - t);
        t = performance.now();
        await oramaSearch(db, { mode: 'hybrid', term: q, vector: { value: Array.from(qv[i] as Float32Array), property: 'embedding' }, similarity: 0, limit: 10 });
        latOrama.push(performance.now() - t);
      }
      ctx.progress('hybrid latency', round + 1, rounds);
    }
    const notes = { docs: data.corpus.length, queries: qids.length, note: 'ours includes embedding the query text; Orama gets the query vector precomputed' };
    const peers = (p: number): Record<string, number> => ({ orama: percentile(latOrama, p), 'ours without feedback': percentile(latPlain, p) });
    ctx.report({ metric: 'hybrid query p50 (top 10)', unit: 'ms', higherIsBetter: false, ours: percentile(latOurs, 50), peers: peers(50), notes });
    ctx.report({ metric: 'hybrid query p99 (top 10)', unit: 'ms', higherIsBetter: false, ours: percentile(latOurs, 99), peers: peers(99), notes });
    ctx.report({ metric: 'index build with GloVe embedding', unit: 'docs/s', higherIsBetter: true, ours: data.corpus.length / (buildMs / 1000), peers: {}, notes: { includes: 'bm25 eval queries' } });
  },
};
