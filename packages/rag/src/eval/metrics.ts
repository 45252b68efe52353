import { RagError } from '../errors.js';

/** Relevance judgements: query id → doc id → graded gain (<= 0 means not relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** One ranked result of a run. */
export interface RunEntry {
  id: string;
  score: number;
}

/** Metrics of one query. */
export interface QueryMetrics {
  ndcg10: number;
  recall100: number;
  mrr10: number;
}

/**
 * Orders a run as trec_eval does: score descending, ties broken by document id in *descending* byte order.
 *
 * @internal
 */
export function trecOrder(run: readonly RunEntry[]): RunEntry[] {
  return [...run].sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * nDCG@k as trec_eval's `ndcg_cut.k`: linear gains (the judged grade), discount `log2(rank + 1)`, the ideal
 * ranking made of all judged relevant documents of the query. Returns 0 when the query has no relevant doc.
 *
 * @param run - the ranked results (re-ordered as trec_eval does).
 * @param judged - doc id → gain for the query.
 * @param k - the cut-off.
 * @returns nDCG@k in [0, 1].
 * @example
 * ```ts
 * import { ndcgAt } from '@dataplane/rag';
 *
 * ndcgAt([{ id: 'a', score: 2 }, { id: 'b', score: 1 }], new Map([['b', 1]]), 10); // 1 / log2(3)
 * ```
 * @since 0.1.0
 */
export function ndcgAt(run: readonly RunEntry[], judged: ReadonlyMap<string, number>, k: number): number {
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(k, ideal.length); i++) idcg += (ideal[i] as number) / Math.log2(i + 2);
  if (idcg === 0) return 0;
  const ordered = trecOrder(run);
  let dcg = 0;
  for (let i = 0; i < Math.min(k, ordered.length); i++) {
    const g = judged.get((ordered[i] as RunEntry).id) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  }
  return dcg / idcg;
}

/**
 * Recall@k as trec_eval's `recall.k`: relevant documents (gain > 0) in the first k over all relevant.
 *
 * @param run - the ranked results.
 * @param judged - doc id → gain.
 * @param k - the cut-off.
 * @returns recall in [0, 1] (0 when nothing is relevant).
 * @example
 * ```ts
 * import { recallAt } from '@dataplane/rag';
 *
 * recallAt([{ id: 'a', score: 1 }], new Map([['a', 2], ['b', 1]]), 100); // 0.5
 * ```
 * @since 0.1.0
 */
export function recallAt(run: readonly RunEntry[], judged: ReadonlyMap<string, number>, k: number): number {
  let rel = 0;
  for (const g of judged.values()) if (g > 0) rel++;
  if (rel === 0) return 0;
  const ordered = trecOrder(run);
  let hit = 0;
  for (let i = 0; i < Math.min(k, ordered.length); i++) if ((judged.get((ordered[i] as RunEntry).id) ?? 0) > 0) hit++;
  return hit / rel;
}

/**
 * MRR@k: the reciprocal rank of the first relevant document within the first k (0 if none), as
 * trec_eval's `recip_rank` on a run cut at k.
 *
 * @param run - the ranked results.
 * @param judged - doc id → gain.
 * @param k - the cut-off.
 * @returns the reciprocal rank.
 * @example
 * ```ts
 * import { mrrAt } from '@dataplane/rag';
 *
 * mrrAt([{ id: 'x', score: 2 }, { id: 'a', score: 1 }], new Map([['a', 1]]), 10); // 0.5
 * ```
 * @since 0.1.0
 */
export function mrrAt(run: readonly RunEntry[], judged: ReadonlyMap<string, number>, k: number): number {
  const ordered = trecOrder(run);
  for (let i = 0; i < Math.min(k, ordered.length); i++) if ((judged.get((ordered[i] as RunEntry).id) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

/**
 * Evaluates a run against qrels: per query nDCG@10, Recall@100, MRR@10, and their means over every query
 * of the qrels with at least one relevant document (a query missing from the run scores 0, as
 * `trec_eval -c`).
 *
 * @param run - query id → ranked results.
 * @param qrels - the judgements.
 * @returns per-query metrics and means.
 * @throws RagError `RAG_INVALID_ARGUMENT` when the qrels have no relevant document.
 * @example
 * ```ts
 * import { evaluateRun } from '@dataplane/rag';
 *
 * const qrels = new Map([['q1', new Map([['d1', 1]])]]);
 * evaluateRun(new Map([['q1', [{ id: 'd1', score: 1 }]]]), qrels).mean.ndcg10; // 1
 * ```
 * @since 0.1.0
 */
export function evaluateRun(
  run: ReadonlyMap<string, readonly RunEntry[]>,
  qrels: Qrels,
): { perQuery: Map<string, QueryMetrics>; mean: QueryMetrics; queries: number } {
  const perQuery = new Map<string, QueryMetrics>();
  const sum: QueryMetrics = { ndcg10: 0, recall100: 0, mrr10: 0 };
  for (const [qid, judged] of qrels) {
    if (![...judged.values()].some((g) => g > 0)) continue;
    const r = run.get(qid) ?? [];
    const m = { ndcg10: ndcgAt(r, judged, 10), recall100: recallAt(r, judged, 100), mrr10: mrrAt(r, judged, 10) };
    perQuery.set(qid, m);
    sum.ndcg10 += m.ndcg10;
    sum.recall100 += m.recall100;
    sum.mrr10 += m.mrr10;
  }
  const n = perQuery.size;
  if (n === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'the qrels have no relevant document');
  return { perQuery, mean: { ndcg10: sum.ndcg10 / n, recall100: sum.recall100 / n, mrr10: sum.mrr10 / n }, queries: n };
}
