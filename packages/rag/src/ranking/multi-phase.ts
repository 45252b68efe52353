import { RagError } from '../errors.js';
import type { Retriever, SearchHit, SearchOptions } from '../retrieval-types.js';
import type { FeatureExtractor } from './features.js';
import type { LinearRanker } from './linear-ranker.js';

/** A ranked hit with the score of each phase. */
export interface RankedHit extends SearchHit {
  /** Phase scores: 1 the retriever's, 2 the learned ranker's, 3 the re-ranker's. */
  phases: { phase1: number; phase2?: number | undefined; phase3?: number | undefined };
}

/** Phase 3: re-scores the top hits (e.g. a cross-encoder); returns one score per hit. */
export type Reranker = (query: string, hits: readonly RankedHit[], opts: { signal?: AbortSignal | undefined }) => Promise<number[]>;

/** Options of {@link createMultiPhaseRanker}. */
export interface MultiPhaseOptions {
  retriever: Retriever;
  /** Phase-2 features (required with `ranker`). */
  features?: FeatureExtractor | undefined;
  /** Phase-2 learned ranker; without it phase 1 order is kept. */
  ranker?: LinearRanker | undefined;
  /** Phase-3 hook. */
  reranker?: Reranker | undefined;
  /** Phase-1 candidates. @defaultValue 100 */
  candidates?: number | undefined;
  /** Hits passed to phase 3. @defaultValue 20 */
  rerankDepth?: number | undefined;
}

/** Searches in phases. */
export interface MultiPhaseRanker {
  search(query: string, opts?: SearchOptions): Promise<RankedHit[]>;
}

/**
 * Multi-phase ranking: phase 1 retriever candidates (hybrid by default), phase 2 a learned ranker over
 * features, phase 3 an optional re-ranker on the top `rerankDepth`.
 *
 * @param options - retriever, features, ranker and hook.
 * @returns the ranker.
 * @throws RagError `RAG_INVALID_ARGUMENT` when a ranker is given without features; `search` rejects like
 * {@link Retriever.search} and with `RAG_INVALID_ARGUMENT` when the re-ranker returns a wrong number of scores.
 * @example
 * ```ts
 * import { createFeatureExtractor, createMultiPhaseRanker, createRetriever, LinearRanker } from '@dataplane/rag';
 *
 * const retriever = createRetriever({ fields: { title: {}, text: {} } });
 * const ranker = await LinearRanker.load('ranker.json');
 * const mp = createMultiPhaseRanker({ retriever, ranker, features: createFeatureExtractor({ retriever }) });
 * const hits = await mp.search('wing lift', { k: 10 });
 * ```
 * @since 0.1.0
 */
export function createMultiPhaseRanker(options: MultiPhaseOptions): MultiPhaseRanker {
  if (options.ranker !== undefined && options.features === undefined) throw new RagError('RAG_INVALID_ARGUMENT', 'a ranker needs a feature extractor');
  const candidates = options.candidates ?? 100;
  const depth = options.rerankDepth ?? 20;
  return {
    async search(query, opts = {}) {
      const k = opts.k ?? 10;
      const hits = await options.retriever.search(query, { ...opts, k: Math.max(k, candidates) });
      let ranked: RankedHit[] = hits.map((h) => ({ ...h, phases: { phase1: h.score } }));
      if (options.ranker !== undefined && options.features !== undefined) {
        const fx = options.features.extract(query, hits);
        const ranker = options.ranker;
        ranked.forEach((h, i) => {
          h.phases.phase2 = ranker.score(fx[i] as Float64Array);
          h.score = h.phases.phase2;
        });
        ranked = ranked.sort((a, b) => b.score - a.score || a.rank - b.rank);
      }
      if (options.reranker !== undefined) {
        const top = ranked.slice(0, depth);
        const scores = await options.reranker(query, top, { signal: opts.signal });
        if (scores.length !== top.length || !scores.every(Number.isFinite)) throw new RagError('RAG_INVALID_ARGUMENT', 're-ranker must return one finite score per hit');
        top.forEach((h, i) => {
          h.phases.phase3 = scores[i] as number;
          h.score = h.phases.phase3;
        });
        ranked = [...top.sort((a, b) => b.score - a.score || a.rank - b.rank), ...ranked.slice(depth)];
      }
      return ranked.slice(0, k).map((h, i) => ({ ...h, rank: i + 1 }));
    },
  };
}
