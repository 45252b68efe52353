import { RagError } from '../errors.js';
import type { Fusion, ScoreNormalization } from '../retrieval-types.js';

/** A ranked candidate list of one signal (best first). */
export interface RankedList {
  ids: readonly string[];
  scores: readonly number[];
}

/** A fused candidate with its per-signal scores and ranks. */
export interface FusedCandidate {
  id: string;
  fused: number;
  bm25?: number | undefined;
  bm25Rank?: number | undefined;
  dense?: number | undefined;
  denseRank?: number | undefined;
  /** The word-pair BM25 score (convex fusion with a `pairs` weight and a `pairs` scorer only). */
  pairs?: number | undefined;
}

/**
 * Exact scorers for the signal a candidate is missing: the BM25 score of a candidate only the dense list
 * found, the cosine of a candidate only the BM25 list found. Return `undefined` when it cannot be computed
 * (e.g. a document without a vector).
 */
export interface MissingScorers {
  bm25?: ((id: string) => number | undefined) | undefined;
  dense?: ((id: string) => number | undefined) | undefined;
  /**
   * The third signal of a convex fusion with a `pairs` weight: the word-pair BM25 score of any candidate
   * (every candidate is scored by it; it adds no candidates).
   */
  pairs?: ((id: string) => number | undefined) | undefined;
}

const NORMALIZATIONS: readonly ScoreNormalization[] = ['minmax', 'zscore', 'dbsf'];

/**
 * Fuses a BM25 and a dense candidate list by weighted reciprocal rank fusion or by a normalised convex
 * combination.
 *
 * @remarks
 * RRF: `fused = w_bm25 / (k + rank_bm25) + w_dense / (k + rank_dense)` (a list that misses the doc adds 0;
 * ranks are positions in the lists, so completed scores do not change RRF).
 *
 * Convex: `fused = alpha * norm(dense) + (1 - alpha) * norm(bm25)`. Candidates are the union of both lists;
 * with `missing` scorers, a candidate's absent signal is computed exactly (and reported in its `bm25` /
 * `dense` score, without a rank). Each signal is then normalised over every candidate that has it
 * (`minmax`, `zscore` or `dbsf`, see {@link ScoreNormalization}); a candidate still without a signal gets
 * the lowest normalised value of that signal. Ties are broken by id for determinism. With a `pairs` weight
 * `w` and a `missing.pairs` scorer, `w * norm(pairs)` is added (each candidate scored by `missing.pairs`).
 *
 * @param bm25 - BM25 candidates, best first.
 * @param dense - dense candidates, best first.
 * @param fusion - the fusion and its parameters (`feedback` is ignored here; the retriever applies it).
 * @param missing - optional exact scorers for a candidate's missing signal (convex only).
 * @returns fused candidates, best first.
 * @throws RagError `RAG_INVALID_ARGUMENT` on invalid parameters.
 * @example
 * ```ts
 * import { fuse } from '@dataplane/rag';
 *
 * fuse({ ids: ['a', 'b'], scores: [3, 1] }, { ids: ['b'], scores: [0.9] }, { kind: 'rrf', k: 60 });
 * // z-score normalisation; the cosine of 'a' (missing from the dense list) is computed exactly
 * fuse({ ids: ['a', 'b'], scores: [3, 1] }, { ids: ['b'], scores: [0.9] }, { kind: 'convex', alpha: 0.3, normalization: 'zscore' }, {
 *   dense: (id) => (id === 'a' ? 0.4 : undefined),
 * });
 * ```
 * @since 0.1.0
 */
export function fuse(bm25: RankedList, dense: RankedList, fusion: Fusion, missing?: MissingScorers): FusedCandidate[] {
  const byId = new Map<string, FusedCandidate>();
  const get = (id: string): FusedCandidate => {
    let c = byId.get(id);
    if (c === undefined) {
      c = { id, fused: 0 };
      byId.set(id, c);
    }
    return c;
  };
  bm25.ids.forEach((id, i) => {
    const c = get(id);
    c.bm25 = bm25.scores[i];
    c.bm25Rank = i + 1;
  });
  dense.ids.forEach((id, i) => {
    const c = get(id);
    c.dense = dense.scores[i];
    c.denseRank = i + 1;
  });
  if (fusion.kind === 'rrf') {
    const k = fusion.k ?? 60;
    const wb = fusion.weights?.bm25 ?? 1;
    const wd = fusion.weights?.dense ?? 1;
    if (!(k >= 0) || !(wb >= 0) || !(wd >= 0)) throw new RagError('RAG_INVALID_ARGUMENT', 'rrf k and weights must be >= 0');
    completeMissing(byId.values(), missing);
    for (const c of byId.values()) {
      c.fused = (c.bm25Rank === undefined ? 0 : wb / (k + c.bm25Rank)) + (c.denseRank === undefined ? 0 : wd / (k + c.denseRank));
    }
  } else if (fusion.kind === 'convex') {
    const a = fusion.alpha;
    if (!(a >= 0 && a <= 1)) throw new RagError('RAG_INVALID_ARGUMENT', `convex alpha must be in [0, 1], got ${String(a)}`);
    const kind = fusion.normalization ?? 'minmax';
    if (!NORMALIZATIONS.includes(kind)) throw new RagError('RAG_INVALID_ARGUMENT', `unknown normalization ${String(kind)}`);
    completeMissing(byId.values(), missing);
    const all = [...byId.values()];
    const nb = normalizer(kind, all.map((c) => c.bm25));
    const nd = normalizer(kind, all.map((c) => c.dense));
    const wp = fusion.pairs ?? 0;
    if (!(wp >= 0) || !Number.isFinite(wp)) throw new RagError('RAG_INVALID_ARGUMENT', `convex pairs weight must be a finite number >= 0, got ${String(wp)}`);
    const scorePairs = missing?.pairs;
    if (wp > 0 && scorePairs !== undefined) {
      for (const c of all) c.pairs = scorePairs(c.id);
      const np = normalizer(kind, all.map((c) => c.pairs));
      for (const c of all) c.fused = a * nd(c.dense) + (1 - a) * nb(c.bm25) + wp * np(c.pairs);
    } else {
      for (const c of all) c.fused = a * nd(c.dense) + (1 - a) * nb(c.bm25);
    }
  } else {
    throw new RagError('RAG_INVALID_ARGUMENT', `unknown fusion kind ${String((fusion as { kind: unknown }).kind)}`);
  }
  return [...byId.values()].sort((x, y) => y.fused - x.fused || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

function completeMissing(cands: Iterable<FusedCandidate>, missing: MissingScorers | undefined): void {
  if (missing === undefined) return;
  for (const c of cands) {
    if (c.bm25 === undefined && missing.bm25 !== undefined) c.bm25 = missing.bm25(c.id);
    if (c.dense === undefined && missing.dense !== undefined) c.dense = missing.dense(c.id);
  }
}

/**
 * The per-query normaliser of one signal over the candidates that have it; a missing score maps to the
 * lowest normalised value. A constant signal normalises to one constant.
 *
 * @internal
 */
export function normalizer(kind: ScoreNormalization, scores: readonly (number | undefined)[]): (s: number | undefined) => number {
  // Sorted, so the statistics do not depend on the candidates' order (bit-identical after a reload).
  const vals = scores.filter((s): s is number => s !== undefined).sort((x, y) => x - y);
  const n = vals.length;
  if (n === 0) return () => 0;
  const lo = vals[0] as number;
  const hi = vals[n - 1] as number;
  let sum = 0;
  for (const s of vals) sum += s;
  let f: (s: number) => number;
  if (kind === 'minmax') {
    const span = hi - lo;
    f = span > 0 ? (s) => (s - lo) / span : () => 1;
  } else {
    const mean = sum / n;
    let v = 0;
    for (const s of vals) v += (s - mean) * (s - mean);
    const sd = Math.sqrt(v / n);
    if (!(sd > 0)) f = kind === 'zscore' ? () => 0 : () => 0.5;
    else if (kind === 'zscore') f = (s) => (s - mean) / sd;
    else f = (s) => Math.min(1, Math.max(0, (s - (mean - 3 * sd)) / (6 * sd)));
  }
  const floor = f(lo);
  return (s) => (s === undefined ? floor : f(s));
}
