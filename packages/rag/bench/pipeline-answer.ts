import { percentile, type BenchCase } from '@dataplane/bench';
import {
  createAnswerPipeline,
  createExtractiveGenerator,
  createFeatureExtractor,
  createGloveEmbedder,
  createMultiPhaseRanker,
  createRetriever,
  loadBeir,
  ndcgAt,
  trainRanker,
  type Qrels,
  type SearchOptions,
} from '../src/index.js';
import { CRANFIELD } from './data.js';

/**
 * Phase 1 (retriever) vs phase 2 (pairwise logistic ranker trained on qrels/train.tsv) on qrels/test.tsv,
 * nDCG@10. Full mode: hybrid with the GloVe embedder; quick mode: BM25 only (no embedding time).
 */
export const pipelineRanking: BenchCase = {
  name: 'pipeline-ranking-cranfield',
  async run(ctx) {
    const train = await loadBeir(CRANFIELD, 'train');
    const test = await loadBeir(CRANFIELD, 'test');
    const embedder = ctx.quick ? undefined : await createGloveEmbedder();
    const mode: SearchOptions['mode'] = embedder === undefined ? 'bm25' : 'hybrid';
    const r = createRetriever({ fields: { title: {}, text: {} }, embedder });
    await r.add(train.corpus.map((d) => ({ id: d.id, fields: { title: d.title, text: d.text } })));
    const fx = createFeatureExtractor({ retriever: r });
    const examples = [];
    let i = 0;
    for (const [qid, judged] of train.qrels) {
      ctx.progress('train candidates', ++i, train.qrels.size);
      const q = train.queries.get(qid);
      if (q === undefined) continue;
      const hits = await r.search(q, { k: 100, mode });
      examples.push({ features: fx.extract(q, hits), labels: hits.map((h) => Math.max(0, judged.get(h.id) ?? 0)) });
    }
    const t0 = performance.now();
    const ranker = trainRanker(examples, { featureNames: fx.names, seed: 7 });
    const trainMs = performance.now() - t0;
    const mp = createMultiPhaseRanker({ retriever: r, ranker, features: fx });
    const score = async (phase2: boolean, qrels: Qrels): Promise<number> => {
      let s = 0;
      let n = 0;
      for (const [qid, judged] of qrels) {
        const q = test.queries.get(qid);
        if (q === undefined) continue;
        const hits = phase2 ? await mp.search(q, { k: 100, mode }) : await r.search(q, { k: 100, mode });
        s += ndcgAt(hits.map((h) => ({ id: h.id, score: h.score })), judged, 10);
        n++;
      }
      return s / n;
    };
    const p1 = await score(false, test.qrels);
    const p2 = await score(true, test.qrels);
    ctx.report({ metric: 'ndcg@10 test split', unit: 'ndcg', higherIsBetter: true, ours: p2, peers: { [`phase1-${String(mode)}`]: p1 }, notes: { ranker: 'pairwise logistic', features: fx.names.length, trainMs: Math.round(trainMs), trainQueries: examples.length, testQueries: test.qrels.size } });
    await r.close();
  },
};

/** End-to-end ask() latency (rewrite, BM25 retrieval, snippets, extractive answer, verification) on chunked Cranfield. */
export const pipelineAsk: BenchCase = {
  name: 'pipeline-ask-cranfield',
  async run(ctx) {
    const data = await loadBeir(CRANFIELD, 'test');
    const r = createRetriever({ fields: { title: {}, text: {} } });
    const rag = createAnswerPipeline({ retriever: r, generator: createExtractiveGenerator(), k: 5, chunking: { maxTokens: 120, overlapTokens: 20 } });
    const t0 = performance.now();
    const bytes = data.corpus.reduce((s, d) => s + d.text.length, 0);
    const passages = await rag.indexDocuments(data.corpus.map((d) => ({ id: d.id, title: d.title, text: d.text })));
    const indexMs = performance.now() - t0;
    const qs = [...data.queries.values()].slice(0, ctx.quick ? 50 : 225);
    const lat: number[] = [];
    let supported = 0;
    let total = 0;
    for (const [i, q] of qs.entries()) {
      ctx.progress('ask', i + 1, qs.length);
      const s = performance.now();
      const res = await rag.ask(q);
      lat.push(performance.now() - s);
      total += res.sentences.length;
      supported += res.sentences.filter((x) => x.supported).length;
    }
    ctx.report({ metric: 'ask p50 latency', unit: 'ms', higherIsBetter: false, ours: percentile(lat, 50), peers: {}, notes: { p95: Number(percentile(lat, 95).toFixed(2)), questions: qs.length, sentences: total, supported } });
    ctx.report({ metric: 'chunk+index throughput', unit: 'MB/s', higherIsBetter: true, ours: bytes / 1e6 / (indexMs / 1000), peers: {}, notes: { docs: data.corpus.length, passages, maxTokens: 120, overlapTokens: 20 } });
    await r.close();
  },
};
