/**
 * The retrieval contract of `@dataplane/rag`: documents, hits, search options, the {@link Retriever} and the
 * {@link Embedder} port. The answer pipeline (chunking, ranking, snippets) builds on these types only.
 *
 * @packageDocumentation
 */

/** A metadata value: documents carry flat metadata used by filters. */
export type MetaValue = string | number | boolean;

/**
 * A document to index. `fields` holds the text of each indexed field (by the names configured in
 * {@link RetrieverOptions.fields}); fields not configured are stored but not indexed.
 *
 * @since 0.1.0
 */
export interface Doc {
  /** Unique, non-empty id. Adding a doc with an existing id replaces it. */
  id: string;
  /** Text per field name. */
  fields: Record<string, string>;
  /** Flat metadata for filters. */
  meta?: Record<string, MetaValue> | undefined;
  /** A precomputed embedding; when absent and the retriever has an embedder, it is computed on add. Stored L2-normalised. */
  vector?: Float32Array | undefined;
}

/** Per-signal scores and ranks of a hit (ranks are 1-based within each signal's candidate list). */
export interface HitSignals {
  bm25?: number | undefined;
  bm25Rank?: number | undefined;
  dense?: number | undefined;
  denseRank?: number | undefined;
  /** The word-pair BM25 score (a fusion with a `pairs` weight). */
  pairs?: number | undefined;
  fused?: number | undefined;
}

/**
 * One search result.
 *
 * @since 0.1.0
 */
export interface SearchHit {
  /** The document id. */
  id: string;
  /** The final score the hits are ordered by (BM25, cosine or fused, by mode). */
  score: number;
  /** 1-based rank in the result list. */
  rank: number;
  /** Scores and ranks of each signal, for explanation and for second-phase features. */
  signals: HitSignals;
  /** BM25 contribution of each field (present in `bm25` and `hybrid` modes for docs that matched). */
  fieldScores?: Record<string, number> | undefined;
}

/**
 * A declarative metadata filter: every key must match. A scalar matches equality; an array matches
 * membership; a range object matches numbers (inclusive bounds).
 *
 * @since 0.1.0
 */
export type MetaFilter = Record<
  string,
  MetaValue | readonly MetaValue[] | { gte?: number | undefined; lte?: number | undefined; gt?: number | undefined; lt?: number | undefined }
>;

/** Weighted reciprocal rank fusion: `score = sum_s w_s / (k + rank_s)`. */
export interface RrfFusion {
  kind: 'rrf';
  /** The RRF constant. @defaultValue 60 */
  k?: number | undefined;
  /** Weight per signal. @defaultValue the retriever's configured weights (bm25 1, dense 1 unless configured) */
  weights?: { bm25?: number | undefined; dense?: number | undefined } | undefined;
  /** Pseudo-relevance feedback used with this fusion. @defaultValue none */
  feedback?: FeedbackOptions | false | undefined;
}

/**
 * How each signal's scores are normalised per query before a convex combination, over the union of both
 * candidate lists (each candidate has both scores, see {@link ConvexFusion}):
 * - `'minmax'`: `(s - min) / (max - min)`;
 * - `'zscore'`: `(s - mean) / stddev`;
 * - `'dbsf'`: distribution-based score fusion, `(s - (mean - 3 sd)) / (6 sd)` clipped to [0, 1].
 */
export type ScoreNormalization = 'minmax' | 'zscore' | 'dbsf';

/**
 * RM3 lexical pseudo-relevance feedback: the BM25 query is expanded with the `terms` most probable terms of
 * the relevance model `P(t|R) = sum_d P(t|d) P(d|q)` of the first-pass top `docs` (`P(d|q)` a softmax of
 * their BM25 scores), interpolated with the original query: `originalWeight * q + (1 - originalWeight) * R`.
 */
export interface Rm3Options {
  /** Feedback documents (the first pass's top). @defaultValue 5 */
  docs?: number | undefined;
  /** Expansion terms kept from the relevance model. @defaultValue 40 */
  terms?: number | undefined;
  /** Weight of the original query in [0, 1]. @defaultValue 0.6 */
  originalWeight?: number | undefined;
}

/**
 * Dense pseudo-relevance feedback (Rocchio in embedding space): the query vector moves toward the mean of
 * the vectors of the top `docs` BM25 documents (after RM3 when it is on): `q' = q/|q| + beta * mean(d/|d|)`.
 */
export interface DensePrfOptions {
  /** Feedback documents (BM25's top). @defaultValue 3 */
  docs?: number | undefined;
  /** Weight of the feedback centroid. @defaultValue 2 */
  beta?: number | undefined;
}

/**
 * Query-side pseudo-relevance feedback across the two signals: BM25 feeds the dense query (`dense`) and
 * the first pass feeds an expanded BM25 query (`rm3`). `false` or an absent key turns a part off.
 */
export interface FeedbackOptions {
  /** RM3 expansion of the BM25 query. */
  rm3?: Rm3Options | false | undefined;
  /** Rocchio feedback of the dense query from BM25's top documents. */
  dense?: DensePrfOptions | false | undefined;
}

/**
 * Normalised convex combination: `score = alpha * norm(dense) + (1 - alpha) * norm(bm25)`. Candidates come
 * from both lists and the signal a candidate is missing is computed exactly (BM25 of a dense-only
 * candidate, cosine of a BM25-only one), so no candidate is scored 0 for not being in a list.
 */
export interface ConvexFusion {
  kind: 'convex';
  /** Weight of the dense signal in [0, 1]. */
  alpha: number;
  /** Per-query score normalisation. @defaultValue `'minmax'` */
  normalization?: ScoreNormalization | undefined;
  /** Pseudo-relevance feedback used with this fusion. @defaultValue none */
  feedback?: FeedbackOptions | false | undefined;
  /**
   * Weight of a third signal, BM25F over consecutive analysed-term pairs ("boundary_layer"), normalised like
   * the others and added to the sum: `alpha * norm(dense) + (1 - alpha) * norm(bm25) + pairs * norm(pairs)`.
   * The retriever keeps a word-pair index beside the BM25 index once a fusion needs it. @defaultValue 0
   */
  pairs?: number | undefined;
  /**
   * A fused first pass that feeds the dense query: see {@link HybridFirstPass}. When set it replaces
   * `feedback.dense` (the dense query's Rocchio feedback comes from the fused first pass, not from BM25).
   * @defaultValue none (one pass)
   */
  firstPass?: HybridFirstPass | undefined;
}

/**
 * The first pass of a two-pass hybrid: the (RM3-expanded) BM25 list, the plain dense list and the word-pair
 * signal are fused with `alpha` and `pairs` (same normalisation as the fusion); the vectors of its top `docs`
 * documents move the dense query (`q' = q/|q| + beta * mean(d/|d|)`), which is searched again (a second dense
 * search per query) and fused with the fusion's own weights.
 */
export interface HybridFirstPass {
  /** Weight of the dense signal in the first pass, in [0, 1]. */
  alpha: number;
  /** Weight of the word-pair signal in the first pass. @defaultValue 0 */
  pairs?: number | undefined;
  /** Feedback documents (the first pass's top). @defaultValue 3 */
  docs?: number | undefined;
  /** Weight of their centroid. @defaultValue 1 */
  beta?: number | undefined;
}

/** How the hybrid mode fuses the two candidate lists. */
export type Fusion = RrfFusion | ConvexFusion;

/**
 * Options of {@link Retriever.search}.
 *
 * @since 0.1.0
 */
export interface SearchOptions {
  /** Number of hits to return. @defaultValue 10 */
  k?: number | undefined;
  /** Which signal(s) to use. @defaultValue `'hybrid'` when the retriever has vectors, else `'bm25'` */
  mode?: 'bm25' | 'dense' | 'hybrid' | undefined;
  /** Fusion of the hybrid mode. @defaultValue the retriever's configured fusion */
  fusion?: Fusion | undefined;
  /**
   * Pseudo-relevance feedback for this query, in any mode (`false` turns it off). In `'hybrid'` mode the
   * fusion's `feedback` applies when this is absent; `'bm25'` and `'dense'` modes use feedback only when
   * it is given here (`{ rm3 }` is BM25+RM3, `{ dense }` is dense with Rocchio feedback from BM25).
   * @defaultValue the fusion's `feedback` in hybrid mode, none otherwise
   */
  feedback?: FeedbackOptions | false | undefined;
  /** Candidates taken from each signal before fusion. @defaultValue max(100, k) */
  candidates?: number | undefined;
  /** Metadata filter: a predicate or a declarative {@link MetaFilter}. */
  filter?: ((meta: Readonly<Record<string, MetaValue>>, id: string) => boolean) | MetaFilter | undefined;
  /** Terms (analysed like the query) every BM25 hit must contain. */
  required?: readonly string[] | undefined;
  /** Terms (analysed like the query) no hit may contain. */
  excluded?: readonly string[] | undefined;
  /** Phrases (analysed) every BM25 hit must contain as consecutive tokens in one field. */
  phrase?: readonly string[] | undefined;
  /** A precomputed query vector for the dense signal (instead of embedding the query text). */
  vector?: Float32Array | undefined;
  /** HNSW efSearch for this query. @defaultValue the retriever's efSearch */
  efSearch?: number | undefined;
  /** Aborts the search; the promise rejects with `RAG_ABORTED`. */
  signal?: AbortSignal | undefined;
}

/** A token produced by an analyzer, with its position and character offsets in the original text. */
export interface Token {
  /** The normalised (folded, stemmed) term. */
  term: string;
  /** 0-based token position (stop words keep their position, so phrases stay exact). */
  position: number;
  /** Start offset (UTF-16 code units) in the original text. */
  start: number;
  /** End offset (exclusive) in the original text. */
  end: number;
}

/**
 * Turns text into index terms.
 *
 * @since 0.1.0
 */
export interface Analyzer {
  /** Stable name, persisted with the index. */
  readonly name: string;
  /** Tokens of `text` with offsets. */
  analyze(text: string): Token[];
}

/**
 * Embeds texts into fixed-size vectors (L2-normalised by convention). Implementations batch internally.
 *
 * @since 0.1.0
 */
export interface Embedder {
  /** Stable model id, persisted with the index. */
  readonly id: string;
  /** Vector dimension. */
  readonly dimensions: number;
  /** One vector per text, in order. */
  embed(texts: readonly string[], opts?: { signal?: AbortSignal | undefined }): Promise<Float32Array[]>;
}

/** Configuration of one indexed field. */
export interface FieldConfig {
  /** BM25F boost of the field. @defaultValue 1 */
  boost?: number | undefined;
  /** Analyzer name (`'english'`, `'standard'`, `'keyword'`) or an {@link Analyzer}. @defaultValue `'english'` */
  analyzer?: string | Analyzer | undefined;
  /** BM25F per-field length normalisation b. @defaultValue the retriever's `b` */
  b?: number | undefined;
}

/** Parameters of the HNSW graph. */
export interface HnswParams {
  /** Links per node per layer (layer 0 has 2M). @defaultValue 16 */
  M?: number | undefined;
  /** Candidate list size while inserting. @defaultValue 200 */
  efConstruction?: number | undefined;
  /** Candidate list size while searching (raised to k when lower). @defaultValue 64 */
  efSearch?: number | undefined;
  /** Below this many vectors, search is exact (brute force). @defaultValue 2000 */
  exactBelow?: number | undefined;
  /** Seed of the level generator. @defaultValue 42 */
  seed?: number | undefined;
}

/**
 * Options of {@link createRetriever}.
 *
 * @since 0.1.0
 */
export interface RetrieverOptions {
  /** Indexed fields with their boosts and analyzers, e.g. `{ title: { boost: 2 }, text: {} }`. */
  fields: Record<string, FieldConfig>;
  /** BM25 k1. @defaultValue 1.2 */
  k1?: number | undefined;
  /** BM25 b. @defaultValue 0.75 */
  b?: number | undefined;
  /** Embedder for documents without a vector and for queries. */
  embedder?: Embedder | undefined;
  /** Dimension of supplied vectors when there is no embedder. */
  dimensions?: number | undefined;
  /** HNSW parameters. */
  hnsw?: HnswParams | undefined;
  /**
   * Default fusion of the hybrid mode (chosen on Cranfield's train split with the GloVe embedder).
   * @defaultValue `DEFAULT_FUSION`: convex, z-score, alpha 0.3, RM3 (5 docs, 40 terms, 0.6) and dense PRF (3 docs, beta 2)
   */
  fusion?: Fusion | undefined;
  /** Field whose text is embedded, or a function building the embedded text. @defaultValue all fields joined */
  embedText?: ((doc: Doc) => string) | undefined;
}

/** A plain snapshot of a retriever's state. */
export interface RetrieverStats {
  docs: number;
  terms: number;
  postingsBytes: number;
  vectors: number;
  hnswLayers: number;
  deletedPending: number;
  searches: number;
  adds: number;
  deletes: number;
}

/**
 * A real-time hybrid index: BM25F over fields plus an HNSW index over vectors.
 *
 * @remarks
 * Every search sees a consistent view: adds, updates and deletes apply atomically per call, and a search
 * that started before a write completes against the view it started with.
 *
 * @since 0.1.0
 */
export interface Retriever extends AsyncDisposable {
  /** Adds (or replaces by id) documents. */
  add(docs: Doc | readonly Doc[], opts?: { signal?: AbortSignal | undefined }): Promise<void>;
  /** Replaces documents by id (same as {@link Retriever.add}, but every id must exist). */
  update(docs: Doc | readonly Doc[], opts?: { signal?: AbortSignal | undefined }): Promise<void>;
  /** Deletes documents by id; returns whether each existed. */
  delete(ids: string | readonly string[]): Promise<number>;
  /** Searches; see {@link SearchOptions}. */
  search(query: string, opts?: SearchOptions): Promise<SearchHit[]>;
  /** The stored document. */
  get(id: string): Doc | undefined;
  /** Number of live documents. */
  readonly size: number;
  /** Per-field BM25 of a document for a query (features for a second-phase ranker); undefined if no such doc. */
  fieldScores(query: string, id: string): Record<string, number> | undefined;
  /** The analyzer of a field (the first field's when omitted). */
  analyzer(field?: string): Analyzer;
  /** Embeds a query with the configured embedder (undefined without one). */
  embedQuery(text: string, opts?: { signal?: AbortSignal | undefined }): Promise<Float32Array | undefined>;
  /** Writes both indexes and the documents to `dir` (created if missing); reload with `loadRetriever`. */
  save(dir: string, opts?: { signal?: AbortSignal | undefined }): Promise<void>;
  /** A plain snapshot. */
  stats(): RetrieverStats;
  /** Releases resources; idempotent. Later calls throw `RAG_CLOSED`. */
  close(): Promise<void>;
}
