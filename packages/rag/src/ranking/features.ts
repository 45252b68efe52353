import type { MetaValue, Retriever, SearchHit } from '../retrieval-types.js';

/** Options of {@link createFeatureExtractor}. */
export interface FeatureOptions {
  /** The retriever the hits come from. */
  retriever: Retriever;
  /** Title field. @defaultValue `'title'` */
  titleField?: string | undefined;
  /** Body field. @defaultValue `'text'` */
  textField?: string | undefined;
  /** Metadata field holding a timestamp (ms) for freshness. */
  freshnessField?: string | undefined;
  /** Freshness half-life in ms. @defaultValue 30 days */
  halfLifeMs?: number | undefined;
  /** Metadata field holding a numeric document prior / authority. */
  priorField?: string | undefined;
  /** Clock for freshness. @defaultValue `Date.now` */
  now?: (() => number) | undefined;
}

/** Names of the features, in vector order. */
export const FEATURE_NAMES = [
  'bm25',
  'bm25_norm',
  'bm25_rrank',
  'dense',
  'dense_norm',
  'dense_rrank',
  'fused',
  'fused_rrank',
  'bm25_title',
  'bm25_text',
  'title_match',
  'coverage',
  'proximity',
  'freshness',
  'prior',
  'log_doclen',
] as const;

/** Computes ranking features of hits for a query. */
export interface FeatureExtractor {
  readonly names: readonly string[];
  /** One feature vector per hit, in order. */
  extract(query: string, hits: readonly SearchHit[]): Float64Array[];
}

function num(v: MetaValue | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * The second-phase features of {@link FEATURE_NAMES}: BM25 (raw, normalised per query, reciprocal rank),
 * BM25 per field, cosine, fused score and rank, title match, query-term coverage, term proximity (smallest
 * window holding the most distinct query terms), freshness and prior from metadata, document length.
 *
 * @param options - retriever, fields and metadata names.
 * @returns the extractor.
 * @example
 * ```ts
 * import { createFeatureExtractor, createRetriever } from '@dataplane/rag';
 *
 * const retriever = createRetriever({ fields: { title: {}, text: {} } });
 * const fx = createFeatureExtractor({ retriever });
 * const vectors = fx.extract('wing lift', await retriever.search('wing lift'));
 * ```
 * @since 0.1.0
 */
export function createFeatureExtractor(options: FeatureOptions): FeatureExtractor {
  const { retriever } = options;
  const titleField = options.titleField ?? 'title';
  const textField = options.textField ?? 'text';
  const halfLife = options.halfLifeMs ?? 30 * 86_400_000;
  const now = options.now ?? Date.now;
  return {
    names: FEATURE_NAMES,
    extract(query, hits) {
      const analyzer = retriever.analyzer(textField);
      const q = new Set(analyzer.analyze(query).map((t) => t.term));
      let maxBm = 0;
      let minD = Infinity;
      let maxD = -Infinity;
      for (const h of hits) {
        maxBm = Math.max(maxBm, h.signals.bm25 ?? 0);
        if (h.signals.dense !== undefined) {
          minD = Math.min(minD, h.signals.dense);
          maxD = Math.max(maxD, h.signals.dense);
        }
      }
      const t = now();
      return hits.map((h) => {
        const doc = retriever.get(h.id);
        const fs = h.fieldScores ?? retriever.fieldScores(query, h.id) ?? {};
        const title = doc?.fields[titleField] ?? '';
        const text = doc?.fields[textField] ?? '';
        const titleTerms = new Set(retriever.analyzer(titleField).analyze(title).map((x) => x.term));
        const toks = analyzer.analyze(text);
        let titleHit = 0;
        let covered = 0;
        const inText = new Set(toks.map((x) => x.term));
        for (const term of q) {
          if (titleTerms.has(term)) titleHit++;
          if (titleTerms.has(term) || inText.has(term)) covered++;
        }
        const ts = doc?.meta?.[options.freshnessField ?? ''];
        const age = options.freshnessField !== undefined && typeof ts === 'number' ? Math.max(0, t - ts) : Infinity;
        const v = new Float64Array(FEATURE_NAMES.length);
        v[0] = h.signals.bm25 ?? 0;
        v[1] = maxBm > 0 ? (h.signals.bm25 ?? 0) / maxBm : 0;
        v[2] = h.signals.bm25Rank !== undefined ? 1 / (h.signals.bm25Rank + 5) : 0;
        v[3] = h.signals.dense ?? 0;
        v[4] = h.signals.dense !== undefined && maxD > minD ? (h.signals.dense - minD) / (maxD - minD) : 0;
        v[5] = h.signals.denseRank !== undefined ? 1 / (h.signals.denseRank + 5) : 0;
        v[6] = h.signals.fused ?? h.score;
        v[7] = 1 / (h.rank + 5);
        v[8] = fs[titleField] ?? 0;
        v[9] = fs[textField] ?? 0;
        v[10] = q.size === 0 ? 0 : titleHit / q.size;
        v[11] = q.size === 0 ? 0 : covered / q.size;
        v[12] = proximity(toks, q);
        v[13] = Number.isFinite(age) ? Math.pow(0.5, age / halfLife) : 0;
        v[14] = num(doc?.meta?.[options.priorField ?? '']);
        v[15] = Math.log1p(toks.length);
        return v;
      });
    },
  };
}

/** Distinct query terms in the best window / (1 + excess window length); 0 when fewer than 2 query terms. */
function proximity(toks: readonly { term: string; position: number }[], q: ReadonlySet<string>): number {
  if (q.size < 2) return 0;
  const hits = toks.filter((t) => q.has(t.term));
  let best = 0;
  const count = new Map<string, number>();
  let lo = 0;
  for (let hi = 0; hi < hits.length; hi++) {
    const h = hits[hi] as { term: string; position: number };
    count.set(h.term, (count.get(h.term) ?? 0) + 1);
    while ((hits[hi] as { position: number }).position - (hits[lo] as { position: number }).position > 10) {
      const l = (hits[lo] as { term: string }).term;
      const c = (count.get(l) ?? 1) - 1;
      if (c === 0) count.delete(l);
      else count.set(l, c);
      lo++;
    }
    const distinct = count.size;
    if (distinct >= 2) {
      const span = h.position - (hits[lo] as { position: number }).position + 1;
      best = Math.max(best, distinct / q.size / (1 + Math.max(0, span - distinct) / 10));
    }
  }
  return best;
}
