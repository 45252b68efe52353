import { RagError } from '../errors.js';
import type { Fusion } from '../retrieval-types.js';

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
}

/**
 * Fuses a BM25 and a dense candidate list by weighted reciprocal rank fusion or by a min-max normalised
 * convex combination.
 *
 * @remarks
 * RRF: `fused = w_bm25 / (k + rank_bm25) + w_dense / (k + rank_dense)` (a list that misses the doc adds 0).
 * Convex: `fused = alpha * norm(dense) + (1 - alpha) * norm(bm25)`, min-max normalised per list; a doc absent
 * from a list gets 0 for it. Ties are broken by id for determinism.
 *
 * @param bm25 - BM25 candidates, best first.
 * @param dense - dense candidates, best first.
 * @param fusion - the fusion and its parameters.
 * @returns fused candidates, best first.
 * @throws RagError `RAG_INVALID_ARGUMENT` on invalid parameters.
 * @example
 * ```ts
 * import { fuse } from '@dataplane/rag';
 *
 * fuse({ ids: ['a', 'b'], scores: [3, 1] }, { ids: ['b'], scores: [0.9] }, { kind: 'rrf', k: 60 });
 * ```
 * @since 0.1.0
 */
export function fuse(bm25: RankedList, dense: RankedList, fusion: Fusion): FusedCandidate[] {
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
    for (const c of byId.values()) {
      c.fused = (c.bm25Rank === undefined ? 0 : wb / (k + c.bm25Rank)) + (c.denseRank === undefined ? 0 : wd / (k + c.denseRank));
    }
  } else if (fusion.kind === 'convex') {
    const a = fusion.alpha;
    if (!(a >= 0 && a <= 1)) throw new RagError('RAG_INVALID_ARGUMENT', `convex alpha must be in [0, 1], got ${String(a)}`);
    const nb = minMax(bm25.scores);
    const nd = minMax(dense.scores);
    for (const c of byId.values()) {
      const b = c.bm25 === undefined ? 0 : nb(c.bm25);
      const d = c.dense === undefined ? 0 : nd(c.dense);
      c.fused = a * d + (1 - a) * b;
    }
  } else {
    throw new RagError('RAG_INVALID_ARGUMENT', `unknown fusion kind ${String((fusion as { kind: unknown }).kind)}`);
  }
  return [...byId.values()].sort((x, y) => y.fused - x.fused || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

function minMax(scores: readonly number[]): (s: number) => number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const span = hi - lo;
  return span > 0 ? (s) => (s - lo) / span : () => 1;
}
