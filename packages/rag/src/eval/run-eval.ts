import { RagError } from '../errors.js';
import type { Retriever, SearchOptions } from '../retrieval-types.js';
import type { BeirDataset } from './beir.js';
import { evaluateRun, type QueryMetrics, type RunEntry } from './metrics.js';

/** Progress of {@link evaluateRetriever}. */
export interface EvalProgress {
  phase: 'index' | 'query';
  done: number;
  total: number;
}

/** Options of {@link evaluateRetriever}. */
export interface EvaluateOptions {
  /** Search options per query (mode, fusion...). `k` is forced to 100. */
  search?: Omit<SearchOptions, 'k' | 'signal'> | undefined;
  /** Index the corpus first. @defaultValue true */
  index?: boolean | undefined;
  /** Progress callback. */
  onProgress?: ((p: EvalProgress) => void) | undefined;
  /** Documents per add() batch. @defaultValue 256 */
  batchSize?: number | undefined;
  /** Aborts the evaluation. */
  signal?: AbortSignal | undefined;
}

/** Result of {@link evaluateRetriever}. */
export interface EvalResult {
  mean: QueryMetrics;
  queries: number;
  perQuery: Map<string, QueryMetrics>;
  run: Map<string, RunEntry[]>;
}

/**
 * Indexes a BEIR dataset into a retriever (fields `title` and `text`, metadata kept) and evaluates it:
 * nDCG@10, Recall@100, MRR@10 over the judged queries.
 *
 * @param retriever - a retriever with fields `title` and/or `text`.
 * @param data - the dataset ({@link loadBeir}).
 * @param options - see {@link EvaluateOptions}.
 * @returns means, per-query metrics and the run.
 * @throws RagError `RAG_ABORTED` when aborted; `RAG_INVALID_ARGUMENT` on qrels without relevant docs.
 * @example
 * ```ts
 * import { createRetriever, evaluateRetriever, loadBeir } from '@dataplane/rag';
 *
 * const data = await loadBeir('../shared/data/cranfield', 'all');
 * const r = createRetriever({ fields: { title: {}, text: {} } });
 * const { mean } = await evaluateRetriever(r, data);
 * ```
 * @since 0.1.0
 */
export async function evaluateRetriever(retriever: Retriever, data: BeirDataset, options: EvaluateOptions = {}): Promise<EvalResult> {
  const signal = options.signal;
  const progress = options.onProgress;
  if (options.index ?? true) {
    const bs = options.batchSize ?? 256;
    for (let i = 0; i < data.corpus.length; i += bs) {
      const batch = data.corpus.slice(i, i + bs).map((d) => ({ id: d.id, fields: { title: d.title, text: d.text }, meta: d.metadata }));
      await retriever.add(batch, { signal });
      progress?.({ phase: 'index', done: Math.min(data.corpus.length, i + bs), total: data.corpus.length });
    }
  }
  const run = new Map<string, RunEntry[]>();
  const qids = [...data.qrels.keys()].filter((q) => data.queries.has(q));
  let done = 0;
  for (const qid of qids) {
    if (signal?.aborted === true) throw new RagError('RAG_ABORTED', 'evaluation aborted', { cause: signal.reason });
    const hits = await retriever.search(data.queries.get(qid) as string, { ...options.search, k: 100, signal });
    run.set(
      qid,
      hits.map((h) => ({ id: h.id, score: h.score })),
    );
    done++;
    if (done % 10 === 0 || done === qids.length) progress?.({ phase: 'query', done, total: qids.length });
  }
  const { mean, perQuery, queries } = evaluateRun(run, data.qrels);
  return { mean, perQuery, queries, run };
}
