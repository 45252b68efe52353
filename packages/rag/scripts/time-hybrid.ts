/**
 * Query latency of the LSA hybrids on a BEIR folder (all queries, one retriever, LSA embedder with its
 * defaults): BM25, LSA dense, `LSA_FUSION` and `LSA_TWO_PASS_FUSION` (its second dense search and word-pair
 * signal), each query timed end to end through `search()` (query embedding included), after one warm-up
 * round; p50 / p95 over `--rounds` rounds of every query. Also times the word-pair index build.
 *
 *   node --import tsx scripts/time-hybrid.ts --dataset ../../../shared/data/cranfield [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { createLsaEmbedder } from '../src/embed/lsa-embedder.js';
import { loadBeir } from '../src/eval/beir.js';
import { createRetriever, LSA_FUSION, LSA_TWO_PASS_FUSION } from '../src/hybrid/retriever.js';
import type { SearchOptions } from '../src/retrieval-types.js';

const { values } = parseArgs({ options: { dataset: { type: 'string' }, rounds: { type: 'string', default: '5' } } });
if (values.dataset === undefined) throw new Error('--dataset is required');
const rounds = Number(values.rounds);
const data = await loadBeir(values.dataset, 'all');
const embedder = await createLsaEmbedder({ corpus: data.corpus.map((d) => [d.title, d.text].filter((t) => t !== '').join('\n')) });
const r = createRetriever({ fields: { title: {}, text: {} }, embedder, fusion: LSA_FUSION });
await r.add(data.corpus.map((d) => ({ id: d.id, fields: { title: d.title, text: d.text } })));
const queries = [...data.queries.values()];

// The first two-pass query builds the word-pair index from the stored documents.
let t = performance.now();
await r.search(queries[0] as string, { fusion: LSA_TWO_PASS_FUSION });
console.log(`first two-pass query (builds the word-pair index for ${data.corpus.length} docs): ${(performance.now() - t).toFixed(0)} ms`);

const runs: [string, SearchOptions][] = [
  ['bm25', { mode: 'bm25' }],
  ['dense (LSA)', { mode: 'dense' }],
  ['hybrid LSA_FUSION', { mode: 'hybrid' }],
  ['hybrid LSA_TWO_PASS_FUSION', { mode: 'hybrid', fusion: LSA_TWO_PASS_FUSION }],
];
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;
for (const [name, opts] of runs) {
  for (const q of queries) await r.search(q, { k: 10, ...opts }); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const q of queries) {
      t = performance.now();
      await r.search(q, { k: 10, ...opts });
      ms.push(performance.now() - t);
    }
  }
  console.log(`${name.padEnd(28)} p50 ${pct(ms, 0.5).toFixed(2)} ms  p95 ${pct(ms, 0.95).toFixed(2)} ms  (${ms.length} searches)`);
}
await r.close();
