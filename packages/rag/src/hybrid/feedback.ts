import { RagError } from '../errors.js';
import type { DensePrfOptions, FeedbackOptions, Rm3Options } from '../retrieval-types.js';

/** A weighted query term (analysed). */
export interface WeightedTerm {
  term: string;
  weight: number;
}

/** A feedback document for {@link expandQueryRm3}: its term counts and its first-pass score. */
export interface FeedbackDoc {
  /** Analysed term -> count in the document (all indexed fields). */
  terms: ReadonlyMap<string, number>;
  /** First-pass retrieval score (BM25); `P(d|q)` is a softmax of these. */
  score: number;
}

/** RM3 parameters with defaults applied. @internal */
export type ResolvedRm3 = Required<{ [K in keyof Rm3Options]: NonNullable<Rm3Options[K]> }>;
/** Dense PRF parameters with defaults applied. @internal */
export type ResolvedDensePrf = Required<{ [K in keyof DensePrfOptions]: NonNullable<DensePrfOptions[K]> }>;

/** @internal */
export function resolveFeedback(fb: FeedbackOptions | false | undefined): { rm3?: ResolvedRm3 | undefined; dense?: ResolvedDensePrf | undefined } {
  if (fb === undefined || fb === false) return {};
  if (typeof fb !== 'object' || fb === null) throw new RagError('RAG_INVALID_ARGUMENT', 'feedback must be an object or false');
  const out: { rm3?: ResolvedRm3; dense?: ResolvedDensePrf } = {};
  if (fb.rm3 !== undefined && fb.rm3 !== false) {
    const r = { docs: fb.rm3.docs ?? 5, terms: fb.rm3.terms ?? 40, originalWeight: fb.rm3.originalWeight ?? 0.6 };
    if (!Number.isInteger(r.docs) || r.docs < 1) throw new RagError('RAG_INVALID_ARGUMENT', `feedback.rm3.docs must be a positive integer, got ${String(r.docs)}`);
    if (!Number.isInteger(r.terms) || r.terms < 0) throw new RagError('RAG_INVALID_ARGUMENT', `feedback.rm3.terms must be an integer >= 0, got ${String(r.terms)}`);
    if (!(r.originalWeight >= 0 && r.originalWeight <= 1)) {
      throw new RagError('RAG_INVALID_ARGUMENT', `feedback.rm3.originalWeight must be in [0, 1], got ${String(r.originalWeight)}`);
    }
    out.rm3 = r;
  }
  if (fb.dense !== undefined && fb.dense !== false) {
    const d = { docs: fb.dense.docs ?? 3, beta: fb.dense.beta ?? 2 };
    if (!Number.isInteger(d.docs) || d.docs < 1) throw new RagError('RAG_INVALID_ARGUMENT', `feedback.dense.docs must be a positive integer, got ${String(d.docs)}`);
    if (!(d.beta >= 0 && Number.isFinite(d.beta))) throw new RagError('RAG_INVALID_ARGUMENT', `feedback.dense.beta must be a finite number >= 0, got ${String(d.beta)}`);
    out.dense = d;
  }
  return out;
}

/**
 * RM3 query expansion (Lavrenko & Croft's relevance model, interpolated with the query as in Anserini).
 *
 * @remarks
 * `P(d|q)` is a softmax of the feedback documents' first-pass scores, `P(t|d) = tf / |d|`, and
 * `P(t|R) = sum_d P(t|d) P(d|q)`. The `terms` most probable terms are kept and renormalised; the result is
 * `originalWeight * q/|q| + (1 - originalWeight) * R`, with `|q|` the sum of the original weights. Ties
 * among expansion terms are broken by term for determinism.
 *
 * @param query - the original query terms and weights.
 * @param docs - the feedback documents (first-pass top), in any order.
 * @param opts - `terms` kept and `originalWeight` (`docs` is the caller's cut).
 * @returns the expanded weighted query (original terms first).
 * @throws RagError `RAG_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { expandQueryRm3 } from '@dataplane/rag';
 *
 * const q = expandQueryRm3([{ term: 'wing', weight: 1 }], [{ terms: new Map([['wing', 2], ['lift', 2]]), score: 3 }], { terms: 10, originalWeight: 0.5 });
 * // [{ term: 'wing', weight: 0.75 }, { term: 'lift', weight: 0.25 }]
 * ```
 * @since 0.1.0
 */
export function expandQueryRm3(
  query: readonly WeightedTerm[],
  docs: readonly FeedbackDoc[],
  opts: Omit<Rm3Options, 'docs'> = {},
): WeightedTerm[] {
  const r = resolveFeedback({ rm3: opts }).rm3 as ResolvedRm3;
  let qsum = 0;
  for (const t of query) qsum += t.weight;
  const out = new Map<string, number>();
  for (const t of query) if (qsum > 0) out.set(t.term, (out.get(t.term) ?? 0) + (r.originalWeight * t.weight) / qsum);
  if (docs.length === 0 || r.terms === 0 || r.originalWeight === 1) return [...out].map(([term, weight]) => ({ term, weight }));
  let max = -Infinity;
  for (const d of docs) if (d.score > max) max = d.score;
  let z = 0;
  const pd = docs.map((d) => {
    const e = Math.exp(d.score - max);
    z += e;
    return e;
  });
  const model = new Map<string, number>();
  docs.forEach((d, i) => {
    let len = 0;
    for (const c of d.terms.values()) len += c;
    if (len === 0) return;
    const w = (pd[i] as number) / z / len;
    for (const [t, c] of d.terms) model.set(t, (model.get(t) ?? 0) + w * c);
  });
  const top = [...model].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, r.terms);
  let tsum = 0;
  for (const [, p] of top) tsum += p;
  if (tsum > 0) for (const [t, p] of top) out.set(t, (out.get(t) ?? 0) + ((1 - r.originalWeight) * p) / tsum);
  return [...out].map(([term, weight]) => ({ term, weight }));
}

/**
 * Dense pseudo-relevance feedback (Rocchio in embedding space): `q' = q/|q| + beta * mean(d/|d|)`.
 *
 * @param query - the query vector.
 * @param docs - the feedback documents' vectors (e.g. BM25's top 3).
 * @param beta - weight of the centroid (0 returns the normalised query).
 * @returns a new vector (not normalised; cosine search normalises it).
 * @throws RagError `RAG_INVALID_ARGUMENT` on a dimension mismatch.
 * @example
 * ```ts
 * import { densePrf } from '@dataplane/rag';
 *
 * densePrf(new Float32Array([1, 0]), [new Float32Array([0, 2])], 1); // Float32Array [1, 1]
 * ```
 * @since 0.1.0
 */
export function densePrf(query: Float32Array, docs: readonly Float32Array[], beta: number): Float32Array {
  const dim = query.length;
  const out = new Float32Array(dim);
  const qn = norm(query);
  if (qn > 0) for (let j = 0; j < dim; j++) out[j] = (query[j] as number) / qn;
  if (docs.length === 0 || beta === 0) return out;
  const w = beta / docs.length;
  for (const d of docs) {
    if (d.length !== dim) throw new RagError('RAG_INVALID_ARGUMENT', `feedback vector has ${d.length} dimensions, expected ${dim}`);
    const dn = norm(d);
    if (dn === 0) continue;
    for (let j = 0; j < dim; j++) out[j] = (out[j] as number) + (w * (d[j] as number)) / dn;
  }
  return out;
}

/** Cosine similarity of two vectors (0 when either is zero). @internal */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) {
    const x = a[j] as number;
    const y = b[j] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}
