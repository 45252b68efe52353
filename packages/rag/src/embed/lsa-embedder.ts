import { getAnalyzer } from '../analysis/analyzer.js';
import { RagError } from '../errors.js';
import type { Analyzer, Embedder } from '../retrieval-types.js';
import { truncatedSvd, type CsrMatrix } from './sparse-svd.js';

/** Options of {@link createLsaEmbedder}. */
export interface LsaEmbedderOptions {
  /** The unlabelled texts to fit on (usually the documents to be indexed, in the same form as embedded). */
  corpus: readonly string[];
  /** Latent dimensions (truncated SVD rank); fewer when the corpus has a lower rank. @defaultValue 128 */
  dimensions?: number | undefined;
  /** Analyzer of the term-document matrix: a name (`'english'`, `'standard'`) or an {@link Analyzer}. @defaultValue `'english'` */
  analyzer?: string | Analyzer | undefined;
  /** Terms in fewer documents are left out of the model. @defaultValue 1 */
  minDf?: number | undefined;
  /**
   * Weight of word pairs (two consecutive analysed terms, stop words skipped) as extra features, relative to
   * single terms; pairs seen in fewer than two documents are left out; 0 turns them off. @defaultValue 0.5
   */
  bigrams?: number | undefined;
  /** At most this many terms (the most frequent by document frequency) are kept. @defaultValue 200000 */
  maxTerms?: number | undefined;
  /** Fit on at most this many documents (an evenly spaced sample of the corpus). @defaultValue 50000 */
  maxDocs?: number | undefined;
  /** Extra random directions of the randomised SVD (more: closer to the exact SVD, slower fit). @defaultValue `max(10, dimensions / 2)` */
  oversample?: number | undefined;
  /** Power iterations of the randomised SVD. @defaultValue 4 */
  powerIterations?: number | undefined;
  /** Seed of the randomised SVD; the model is a pure function of the corpus and the options. @defaultValue 1 */
  seed?: number | undefined;
  /** Texts embedded per batch between abort checks. @defaultValue 256 */
  batchSize?: number | undefined;
  /** Aborts the fit. */
  signal?: AbortSignal | undefined;
}

/** An {@link Embedder} fitted on a corpus by {@link createLsaEmbedder}, with its model statistics. */
export interface LsaEmbedder extends Embedder {
  /** Terms in the model. */
  readonly terms: number;
  /** Documents the model was fitted on. */
  readonly fittedDocs: number;
  /** Singular values of the kept components, descending. */
  readonly singularValues: Float64Array;
  /** The fitted model as bytes, for {@link loadLsaEmbedder} (no refit needed to reopen an index). */
  toBytes(): Uint8Array;
}

/** Options of {@link loadLsaEmbedder}. */
export interface LoadLsaEmbedderOptions {
  /** The analyzer, required when the model was fitted with a custom one; by default the saved analyzer name. */
  analyzer?: Analyzer | undefined;
  /** Texts embedded per batch between abort checks. @defaultValue 256 */
  batchSize?: number | undefined;
}

const MAGIC = 'DPLSA001';

interface SavedHeader {
  analyzer: string;
  dimensions: number;
  fittedDocs: number;
  pairs: boolean;
  terms: string[];
}

/**
 * Reopens an LSA model saved with {@link LsaEmbedder.toBytes}: same vectors, same `id`.
 *
 * @param bytes - the saved model.
 * @param options - see {@link LoadLsaEmbedderOptions}.
 * @returns the {@link LsaEmbedder}.
 * @throws RagError `RAG_CORRUPT_INDEX` when the bytes are not a whole model; `RAG_INVALID_ARGUMENT` when the
 * model's analyzer is not a built-in one and none is given.
 * @example
 * ```ts
 * import { createLsaEmbedder, loadLsaEmbedder } from '@dataplane/rag';
 *
 * const fitted = await createLsaEmbedder({ corpus: ['supersonic flow over a wing', 'heat transfer in a boundary layer'] });
 * const reopened = loadLsaEmbedder(fitted.toBytes());
 * // reopened.id === fitted.id
 * ```
 * @since 0.2.0
 */
export function loadLsaEmbedder(bytes: Uint8Array, options: LoadLsaEmbedderOptions = {}): LsaEmbedder {
  const corrupt = (why: string): RagError => new RagError('RAG_CORRUPT_INDEX', `not a whole LSA model: ${why}`);
  if (!(bytes instanceof Uint8Array) || bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw corrupt('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen > bytes.length) throw corrupt('truncated header');
  let h: SavedHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLen))) as SavedHeader;
  } catch (err) {
    throw new RagError('RAG_CORRUPT_INDEX', 'not a whole LSA model: unreadable header', { cause: err });
  }
  if (!Array.isArray(h.terms) || !Number.isInteger(h.dimensions) || h.dimensions < 1) throw corrupt('bad header');
  const n = h.terms.length;
  const k = h.dimensions;
  const start = Math.ceil((12 + headerLen) / 8) * 8;
  if (bytes.length !== start + n * 8 + k * 8 + n * k * 4) throw corrupt('truncated or oversized body');
  const body = bytes.slice(start);
  const idf = new Float64Array(body.buffer, 0, n);
  const singularValues = new Float64Array(body.buffer, n * 8, k);
  const projection = new Float32Array(body.buffer, n * 8 + k * 8, n * k);
  let analyzer = options.analyzer;
  if (analyzer === undefined) {
    try {
      analyzer = getAnalyzer(h.analyzer);
    } catch (err) {
      throw new RagError('RAG_INVALID_ARGUMENT', `the LSA model was fitted with analyzer ${h.analyzer}; pass it as options.analyzer`, { cause: err });
    }
  }
  const termIndex = new Map<string, number>();
  h.terms.forEach((t, i) => termIndex.set(t, i));
  return new LsaModel(analyzer, termIndex, idf, projection, k, singularValues, h.fittedDocs, options.batchSize ?? 256, h.pairs);
}

/**
 * A corpus-adapted embedder: latent semantic analysis (Deerwester et al. 1990), the truncated SVD of the
 * corpus's log-tf x idf term-document matrix (rows L2-normalised; features are the analysed terms and, with
 * a lower weight, pairs of consecutive terms such as "boundary layer"), computed when it is created. A text
 * embeds to the L2-normalised projection of its own log-tf x idf vector on the top right singular
 * vectors (the usual "fold-in"), so documents and queries, old and new, go through one function.
 *
 * @remarks
 * This is a **static, corpus-adapted** embedding, not a transformer: it learns which terms co-occur in
 * this corpus (so a query can match a document that uses related terms) and knows nothing of word order.
 * It is fitted without labels, on the texts it is given, deterministically (seeded randomised SVD, Halko
 * et al. 2011): refitting on the same corpus gives the same model and the same `id`, which is how a
 * reloaded index finds its embedder again (or save it with `toBytes()` and reopen it with
 * {@link loadLsaEmbedder}). Terms unknown to the model are ignored; a text without known
 * terms embeds to the zero vector. Documents added after the fit are folded in, not learnt from: refit
 * when the collection drifts. Fitting costs a few sparse products with the corpus (Cranfield, 1,400
 * abstracts: well under a second).
 *
 * @param options - see {@link LsaEmbedderOptions}.
 * @returns an {@link LsaEmbedder} with id `lsa-<dims>d-<analyzer>-<model hash>`.
 * @throws RagError `RAG_INVALID_ARGUMENT` when the options or the corpus are invalid (no term at all);
 * `RAG_ABORTED` when `signal` fires.
 * @example
 * ```ts
 * import { createLsaEmbedder, createRetriever } from '@dataplane/rag';
 *
 * const docs = [{ id: '1', fields: { text: 'supersonic flow over a swept wing' } }];
 * const embedder = await createLsaEmbedder({ corpus: docs.map((d) => d.fields.text), dimensions: 128 });
 * const retriever = createRetriever({ fields: { text: {} }, embedder });
 * await retriever.add(docs);
 * ```
 * @since 0.2.0
 */
export async function createLsaEmbedder(options: LsaEmbedderOptions): Promise<LsaEmbedder> {
  const corpus = options.corpus;
  if (!Array.isArray(corpus) || corpus.some((t) => typeof t !== 'string')) {
    throw new RagError('RAG_INVALID_ARGUMENT', 'corpus must be an array of strings');
  }
  const dims = options.dimensions ?? 128;
  const minDf = options.minDf ?? 1;
  const bigrams = options.bigrams ?? 0.5;
  if (!(bigrams >= 0) || !Number.isFinite(bigrams)) throw new RagError('RAG_INVALID_ARGUMENT', `bigrams must be a finite number >= 0, got ${String(bigrams)}`);
  const maxTerms = options.maxTerms ?? 200_000;
  const maxDocs = options.maxDocs ?? 50_000;
  const batchSize = options.batchSize ?? 256;
  for (const [name, v] of [
    ['dimensions', dims],
    ['minDf', minDf],
    ['maxTerms', maxTerms],
    ['maxDocs', maxDocs],
    ['batchSize', batchSize],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RagError('RAG_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(v)}`);
  }
  const analyzer = typeof options.analyzer === 'object' ? options.analyzer : getAnalyzer(options.analyzer ?? 'english');
  const signal = options.signal;
  const checkAbort = (): void => {
    if (signal?.aborted === true) throw new RagError('RAG_ABORTED', 'LSA fit aborted', { cause: signal.reason });
  };

  // 1. Term counts per sampled document, document frequencies.
  const step = corpus.length > maxDocs ? corpus.length / maxDocs : 1;
  const sample: string[] = [];
  for (let x = 0; Math.floor(x) < corpus.length && sample.length < maxDocs; x += step) sample.push(corpus[Math.floor(x)] as string);
  const counts: Map<string, number>[] = [];
  const df = new Map<string, number>();
  for (let i = 0; i < sample.length; i++) {
    if (i % batchSize === 0) {
      checkAbort();
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
    }
    const c = termCounts(analyzer, sample[i] as string, bigrams > 0);
    counts.push(c);
    for (const term of c.keys()) df.set(term, (df.get(term) ?? 0) + 1);
  }
  const vocab = [...df.entries()]
    .filter(([term, n]) => n >= (term.includes(PAIR) ? Math.max(2, minDf) : minDf))
    .sort((p, q) => q[1] - p[1] || (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0))
    .slice(0, maxTerms);
  if (vocab.length === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'the corpus has no term to fit an LSA model on');
  const termIndex = new Map<string, number>();
  const n = sample.length;
  const idf = new Float64Array(vocab.length);
  vocab.forEach(([term, d], i) => {
    termIndex.set(term, i);
    idf[i] = Math.log(1 + (n - d + 0.5) / (d + 0.5)) * (term.includes(PAIR) ? bigrams : 1);
  });

  // 2. The L2-normalised log-tf x idf document-term matrix (CSR).
  let nnz = 0;
  for (const c of counts) for (const term of c.keys()) if (termIndex.has(term)) nnz++;
  const m: CsrMatrix = {
    rows: n,
    cols: vocab.length,
    indptr: new Uint32Array(n + 1),
    indices: new Uint32Array(nnz),
    values: new Float64Array(nnz),
  };
  let p = 0;
  counts.forEach((c, i) => {
    const start = p;
    let norm = 0;
    for (const [term, tf] of c) {
      const t = termIndex.get(term);
      if (t === undefined) continue;
      const w = Math.log1p(tf) * (idf[t] as number);
      m.indices[p] = t;
      m.values[p] = w;
      norm += w * w;
      p++;
    }
    if (norm > 0) for (let q = start; q < p; q++) m.values[q] = (m.values[q] as number) / Math.sqrt(norm);
    m.indptr[i + 1] = p;
  });
  checkAbort();

  // 3. Truncated SVD: the term projection matrix (terms x k).
  const svd = truncatedSvd(m, { k: dims, oversample: options.oversample ?? Math.max(10, Math.ceil(dims / 2)), powerIterations: options.powerIterations, seed: options.seed });
  if (svd.k === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'the corpus matrix has rank 0');
  const projection = Float32Array.from(svd.v);
  return new LsaModel(analyzer, termIndex, idf, projection, svd.k, svd.values, n, batchSize, bigrams > 0);
}

/** Separates the two terms of a word-pair feature (analysers never emit it). */
const PAIR = '\u0000';

/** Counts of the analysed terms of a text and, with `pairs`, of its consecutive term pairs. */
function termCounts(analyzer: Analyzer, text: string, pairs: boolean): Map<string, number> {
  const c = new Map<string, number>();
  let prev: string | undefined;
  for (const t of analyzer.analyze(text)) {
    c.set(t.term, (c.get(t.term) ?? 0) + 1);
    if (pairs && prev !== undefined) {
      const pair = `${prev}${PAIR}${t.term}`;
      c.set(pair, (c.get(pair) ?? 0) + 1);
    }
    prev = t.term;
  }
  return c;
}

/** FNV-1a over the projection's bytes, for a model id that changes when the model does. */
function hashOf(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

class LsaModel implements LsaEmbedder {
  readonly id: string;
  readonly dimensions: number;
  readonly terms: number;

  constructor(
    private readonly analyzer: Analyzer,
    private readonly termIndex: Map<string, number>,
    private readonly idf: Float64Array,
    private readonly projection: Float32Array,
    k: number,
    readonly singularValues: Float64Array,
    readonly fittedDocs: number,
    private readonly batchSize: number,
    private readonly pairs: boolean,
  ) {
    this.dimensions = k;
    this.terms = termIndex.size;
    this.id = `lsa-${k}d-${analyzer.name}-${hashOf(new Uint8Array(projection.buffer, projection.byteOffset, projection.byteLength))}`;
  }

  toBytes(): Uint8Array {
    const terms: string[] = [];
    for (const [term, i] of this.termIndex) terms[i] = term;
    const header: SavedHeader = { analyzer: this.analyzer.name, dimensions: this.dimensions, fittedDocs: this.fittedDocs, pairs: this.pairs, terms };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const start = Math.ceil((12 + json.length) / 8) * 8;
    const n = terms.length;
    const k = this.dimensions;
    const out = new Uint8Array(start + n * 8 + k * 8 + n * k * 4);
    out.set(new TextEncoder().encode(MAGIC), 0);
    new DataView(out.buffer).setUint32(8, json.length, true);
    out.set(json, 12);
    new Float64Array(out.buffer, start, n).set(this.idf);
    new Float64Array(out.buffer, start + n * 8, k).set(this.singularValues);
    new Float32Array(out.buffer, start + n * 8 + k * 8, n * k).set(this.projection);
    return out;
  }

  private one(text: string, tf: Map<number, number>, acc: Float64Array): Float32Array {
    tf.clear();
    for (const [term, count] of termCounts(this.analyzer, text, this.pairs)) {
      const t = this.termIndex.get(term);
      if (t !== undefined) tf.set(t, count);
    }
    acc.fill(0);
    const k = this.dimensions;
    const proj = this.projection;
    for (const [t, n] of tf) {
      const w = Math.log1p(n) * (this.idf[t] as number);
      const o = t * k;
      for (let c = 0; c < k; c++) acc[c] = (acc[c] as number) + w * (proj[o + c] as number);
    }
    let norm = 0;
    for (let c = 0; c < k; c++) norm += (acc[c] as number) ** 2;
    const out = new Float32Array(k);
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let c = 0; c < k; c++) out[c] = (acc[c] as number) * inv;
    }
    return out;
  }

  async embed(texts: readonly string[], opts: { signal?: AbortSignal | undefined } = {}): Promise<Float32Array[]> {
    if (!Array.isArray(texts)) throw new RagError('RAG_INVALID_ARGUMENT', 'texts must be an array of strings');
    const out: Float32Array[] = [];
    const tf = new Map<number, number>();
    const acc = new Float64Array(this.dimensions);
    for (let i = 0; i < texts.length; i++) {
      if (i % this.batchSize === 0) {
        if (opts.signal?.aborted === true) throw new RagError('RAG_ABORTED', 'embedding aborted', { cause: opts.signal.reason });
        if (i > 0) await new Promise<void>((r) => setImmediate(r));
      }
      const t = texts[i];
      if (typeof t !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', `texts[${i}] must be a string`);
      out.push(this.one(t, tf, acc));
    }
    return out;
  }
}
