import { getAnalyzer } from '../analysis/analyzer.js';
import { HnswIndex } from '../dense/hnsw.js';
import { RagError } from '../errors.js';
import type {
  Analyzer,
  Doc,
  Embedder,
  Fusion,
  HybridFirstPass,
  MetaValue,
  Retriever,
  RetrieverOptions,
  RetrieverStats,
  SearchHit,
  SearchOptions,
  Token,
} from '../retrieval-types.js';
import { Bm25Index, type QueryTerm, type SparseField } from '../sparse/bm25-index.js';
import { saveRetriever } from '../persist/save.js';
import { cosine, densePrf, expandQueryRm3, resolveFeedback, type FeedbackDoc, type ResolvedDensePrf } from './feedback.js';
import { fuse, type FusedCandidate, type MissingScorers, type RankedList } from './fusion.js';
import { compileFilter } from './meta-filter.js';

interface Entry {
  doc: Doc;
  num: number;
  node: number;
}

/**
 * The default fusion of the hybrid mode, chosen on Cranfield's `qrels/train.tsv` with the GloVe embedder:
 * z-score convex combination (dense weight 0.3) of an RM3-expanded BM25 query and a dense query with Rocchio
 * feedback from BM25's top documents.
 *
 * @example
 * ```ts
 * import { createRetriever, DEFAULT_FUSION } from '@dataplane/rag';
 *
 * // the default fusion without lexical feedback (dense PRF only)
 * const r = createRetriever({ fields: { text: {} }, fusion: { ...DEFAULT_FUSION, feedback: { dense: { docs: 3, beta: 2 } } } });
 * ```
 * @since 0.1.0
 */
export const DEFAULT_FUSION: Fusion = Object.freeze({
  kind: 'convex',
  alpha: 0.3,
  normalization: 'zscore',
  feedback: Object.freeze({ rm3: Object.freeze({ docs: 5, terms: 40, originalWeight: 0.6 }), dense: Object.freeze({ docs: 3, beta: 2 }) }),
}) as Fusion;
/**
 * A hybrid fusion tuned for the corpus-adapted LSA embedder (`createLsaEmbedder` with its defaults):
 * z-score convex combination with dense weight 0.6 of an RM3-expanded BM25 query (5 docs, 40 terms,
 * original weight 0.6) and the plain LSA query (no dense feedback).
 *
 * @remarks
 * Chosen on Cranfield's `qrels/train.tsv` only, from alpha 0.3-0.8 x feedback none / RM3 / dense PRF / both
 * (z-score; the RM3 parameters are `DEFAULT_FUSION`'s, themselves from an earlier train-split sweep);
 * `test.tsv` and `all.tsv` were only measured: nDCG@10 0.597 on test and 0.582 on all, against 0.573 and
 * 0.561 for LSA dense alone and 0.579 and 0.562 for BM25+RM3 alone (see the package README). Re-tune
 * `alpha` on a train split for another collection or embedder.
 *
 * @example
 * ```ts
 * import { createLsaEmbedder, createRetriever, LSA_FUSION } from '@dataplane/rag';
 *
 * const corpus = ['supersonic flow over a swept wing', 'heat transfer in a laminar boundary layer'];
 * const retriever = createRetriever({
 *   fields: { title: {}, text: {} },
 *   embedder: await createLsaEmbedder({ corpus }),
 *   fusion: LSA_FUSION,
 * });
 * ```
 * @since 0.2.0
 */
export const LSA_FUSION: Fusion = Object.freeze({
  kind: 'convex',
  alpha: 0.6,
  normalization: 'zscore',
  feedback: Object.freeze({ rm3: Object.freeze({ docs: 5, terms: 40, originalWeight: 0.6 }) }),
}) as Fusion;
/**
 * A two-pass, three-signal hybrid for the corpus-adapted LSA embedder (`createLsaEmbedder` with its
 * defaults). First pass: z-score fusion of RM3-expanded BM25 (0.4), the plain LSA query (0.6) and BM25 over
 * consecutive analysed-term pairs ("boundary_layer", 0.2); its top 3 documents move the LSA query (Rocchio,
 * beta 1), which is searched again. Second pass: RM3 BM25 (0.3) + the fed-back LSA query (0.7) + word
 * pairs (0.2), z-scored over the union of both top-`candidates` lists.
 *
 * @remarks
 * Weights chosen on Cranfield's `qrels/train.tsv` only (180 configurations of `scripts/tune-hybrid.ts`),
 * but the recipe itself (a word-pair signal, feedback from the hybrid's own first pass) was chosen after
 * exploratory runs that had also printed test figures, so `test.tsv` is not untouched for it the way it is
 * for {@link LSA_FUSION}. Measured with `rag eval --fusion lsa2` in the package README. It costs a second
 * dense search and a word-pair index (built on first use, kept up to date on add/update/delete, rebuilt
 * from the stored documents after `loadRetriever`).
 *
 * @example
 * ```ts
 * import { createLsaEmbedder, createRetriever, LSA_TWO_PASS_FUSION } from '@dataplane/rag';
 *
 * const corpus = ['supersonic flow over a swept wing', 'heat transfer in a laminar boundary layer'];
 * const retriever = createRetriever({
 *   fields: { title: {}, text: {} },
 *   embedder: await createLsaEmbedder({ corpus }),
 *   fusion: LSA_TWO_PASS_FUSION,
 * });
 * ```
 * @since 0.2.0
 */
export const LSA_TWO_PASS_FUSION: Fusion = Object.freeze({
  kind: 'convex',
  alpha: 0.7,
  normalization: 'zscore',
  pairs: 0.2,
  firstPass: Object.freeze({ alpha: 0.6, pairs: 0.2, docs: 3, beta: 1 }),
  feedback: Object.freeze({ rm3: Object.freeze({ docs: 5, terms: 40, originalWeight: 0.6 }) }),
}) as Fusion;
const EMPTY_META: Readonly<Record<string, MetaValue>> = Object.freeze({});

/** An analyzer whose terms are the consecutive pairs of another's terms (`a_b`). */
function pairAnalyzer(base: Analyzer): Analyzer {
  return {
    name: `${base.name}-pairs`,
    analyze(text) {
      const toks = base.analyze(text);
      const out: Token[] = [];
      for (let i = 1; i < toks.length; i++) {
        const a = toks[i - 1] as Token;
        const b = toks[i] as Token;
        out.push({ term: `${a.term}_${b.term}`, position: i - 1, start: a.start, end: b.end });
      }
      return out;
    },
  };
}

/** Query terms with their frequency as weight, analysed once with each distinct analyzer of the fields. */
function termsFor(fields: readonly SparseField[], query: string): QueryTerm[] {
  const w = new Map<string, number>();
  const seenAnalyzers = new Set<Analyzer>();
  for (const f of fields) {
    if (seenAnalyzers.has(f.analyzer)) continue;
    seenAnalyzers.add(f.analyzer);
    const local = new Map<string, number>();
    for (const t of f.analyzer.analyze(query)) local.set(t.term, (local.get(t.term) ?? 0) + 1);
    for (const [t, c] of local) w.set(t, Math.max(w.get(t) ?? 0, c));
  }
  return [...w].map(([term, weight]) => ({ term, weight }));
}

function usesPairs(f: Fusion | undefined): boolean {
  return f?.kind === 'convex' && ((f.pairs ?? 0) > 0 || (f.firstPass?.pairs ?? 0) > 0);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new RagError('RAG_ABORTED', 'operation aborted', { cause: signal.reason });
}

function positiveNumber(name: string, v: number | undefined, def: number): number {
  const x = v ?? def;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new RagError('RAG_INVALID_ARGUMENT', `${name} must be a finite number >= 0, got ${String(v)}`);
  return x;
}

/** @internal */
export class HybridRetriever implements Retriever {
  readonly options: RetrieverOptions;
  readonly sparse: Bm25Index;
  hnsw: HnswIndex | undefined;
  readonly embedder: Embedder | undefined;
  readonly entries = new Map<string, Entry>();
  idByNum: (string | undefined)[] = [];
  idByNode: (string | undefined)[] = [];
  private readonly fieldAnalyzers = new Map<string, Analyzer>();
  private readonly fusion: Fusion;
  /** Analysed term counts of recent feedback documents by doc number (doc numbers are never reused). */
  private readonly termCountCache = new Map<number, Map<string, number>>();
  /** BM25F over consecutive term pairs, built when a fusion first needs it (see {@link ConvexFusion.pairs}). */
  private pairIndex: Bm25Index | undefined;
  /** Doc number in `pairIndex` by id. */
  private readonly pairNums = new Map<string, number>();
  private closed = false;
  private counters = { searches: 0, adds: 0, deletes: 0 };

  constructor(options: RetrieverOptions) {
    if (typeof options !== 'object' || options === null || typeof options.fields !== 'object' || options.fields === null) {
      throw new RagError('RAG_INVALID_ARGUMENT', 'options.fields is required, e.g. { title: { boost: 2 }, text: {} }');
    }
    const names = Object.keys(options.fields);
    if (names.length === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'at least one field is required');
    const k1 = positiveNumber('k1', options.k1, 1.2);
    const b = positiveNumber('b', options.b, 0.75);
    if (b > 1) throw new RagError('RAG_INVALID_ARGUMENT', 'b must be in [0, 1]');
    const fields: SparseField[] = names.map((name) => {
      const fc = options.fields[name] ?? {};
      const analyzer = typeof fc.analyzer === 'object' ? fc.analyzer : getAnalyzer(fc.analyzer ?? 'english');
      this.fieldAnalyzers.set(name, analyzer);
      const fb = positiveNumber(`fields.${name}.b`, fc.b, b);
      if (fb > 1) throw new RagError('RAG_INVALID_ARGUMENT', `fields.${name}.b must be in [0, 1]`);
      return { name, boost: positiveNumber(`fields.${name}.boost`, fc.boost, 1), b: fb, analyzer };
    });
    this.options = options;
    this.sparse = new Bm25Index(fields, k1);
    this.embedder = options.embedder;
    this.fusion = options.fusion ?? DEFAULT_FUSION;
    const dims = options.embedder?.dimensions ?? options.dimensions;
    if (dims !== undefined) this.hnsw = this.makeHnsw(dims);
    if (usesPairs(this.fusion)) this.pairs();
  }

  /**
   * The word-pair index, built from the stored documents on first use (after `loadRetriever` too) and kept
   * up to date by every add, update and delete afterwards.
   */
  private pairs(): Bm25Index {
    if (this.pairIndex !== undefined) return this.pairIndex;
    const wrapped = new Map<Analyzer, Analyzer>();
    const fields = this.sparse.fields.map((f) => {
      let a = wrapped.get(f.analyzer);
      if (a === undefined) {
        a = pairAnalyzer(f.analyzer);
        wrapped.set(f.analyzer, a);
      }
      return { ...f, analyzer: a };
    });
    const index = new Bm25Index(fields, this.sparse.k1);
    const entries = [...this.entries.values()].sort((x, y) => x.num - y.num);
    for (const e of entries) this.pairNums.set(e.doc.id, index.add(e.doc.fields));
    this.pairIndex = index;
    return index;
  }

  private makeHnsw(dimensions: number): HnswIndex {
    const h = this.options.hnsw ?? {};
    return new HnswIndex({
      dimensions,
      M: h.M,
      efConstruction: h.efConstruction,
      efSearch: h.efSearch,
      exactBelow: h.exactBelow,
      seed: h.seed,
    });
  }

  get size(): number {
    return this.entries.size;
  }

  private ensureOpen(): void {
    if (this.closed) throw new RagError('RAG_CLOSED', 'the retriever is closed');
  }

  private validate(doc: Doc): void {
    if (typeof doc !== 'object' || doc === null) throw new RagError('RAG_INVALID_ARGUMENT', 'a doc must be an object');
    if (typeof doc.id !== 'string' || doc.id === '') throw new RagError('RAG_INVALID_ARGUMENT', 'doc.id must be a non-empty string');
    if (typeof doc.fields !== 'object' || doc.fields === null) throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: fields must be an object`);
    for (const [k, v] of Object.entries(doc.fields)) {
      if (typeof v !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: field ${k} must be a string`);
    }
    if (doc.meta !== undefined) {
      if (typeof doc.meta !== 'object' || doc.meta === null) throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: meta must be an object`);
      for (const [k, v] of Object.entries(doc.meta)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: meta.${k} must be a string, number or boolean`);
        }
      }
    }
    if (doc.vector !== undefined) {
      if (!(doc.vector instanceof Float32Array)) throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: vector must be a Float32Array`);
      const dims = this.hnsw?.dimensions ?? this.options.dimensions;
      if (dims !== undefined && doc.vector.length !== dims) {
        throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: vector has ${doc.vector.length} dimensions, expected ${dims}`);
      }
      for (const x of doc.vector) if (!Number.isFinite(x)) throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: vector has a non-finite value`);
    }
  }

  private embedText(doc: Doc): string {
    if (this.options.embedText !== undefined) return this.options.embedText(doc);
    return this.sparse.fields.map((f) => doc.fields[f.name] ?? '').filter((s) => s !== '').join('\n');
  }

  async add(docs: Doc | readonly Doc[], opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.ensureOpen();
    const list: Doc[] = Array.isArray(docs) ? [...(docs as readonly Doc[])] : [docs as Doc];
    for (const d of list) this.validate(d);
    checkAborted(opts.signal);
    // Embed first (async); then apply every change synchronously, so searches never see half a batch.
    const vectors: (Float32Array | undefined)[] = list.map((d) => (d.vector === undefined ? undefined : Float32Array.from(d.vector)));
    if (this.embedder !== undefined) {
      const missing = list.map((d, i) => (d.vector === undefined ? i : -1)).filter((i) => i >= 0);
      if (missing.length > 0) {
        const out = await this.embedder.embed(
          missing.map((i) => this.embedText(list[i] as Doc)),
          { signal: opts.signal },
        );
        if (out.length !== missing.length) throw new RagError('RAG_INVALID_ARGUMENT', `embedder returned ${out.length} vectors for ${missing.length} texts`);
        missing.forEach((i, j) => (vectors[i] = out[j]));
      }
    }
    checkAborted(opts.signal);
    this.ensureOpen();
    for (let i = 0; i < list.length; i++) this.apply(list[i] as Doc, vectors[i]);
    this.counters.adds += list.length;
  }

  private apply(doc: Doc, vector: Float32Array | undefined): void {
    this.removeEntry(doc.id);
    const stored: Doc = { id: doc.id, fields: { ...doc.fields } };
    if (doc.meta !== undefined) stored.meta = { ...doc.meta };
    const num = this.sparse.add(stored.fields);
    this.idByNum[num] = doc.id;
    if (this.pairIndex !== undefined) this.pairNums.set(doc.id, this.pairIndex.add(stored.fields));
    let node = -1;
    if (vector !== undefined) {
      let norm = 0;
      for (const x of vector) norm += x * x;
      if (norm > 0) {
        this.hnsw ??= this.makeHnsw(vector.length);
        if (vector.length !== this.hnsw.dimensions) {
          throw new RagError('RAG_INVALID_ARGUMENT', `doc ${doc.id}: vector has ${vector.length} dimensions, expected ${this.hnsw.dimensions}`);
        }
        node = this.hnsw.add(vector);
        this.idByNode[node] = doc.id;
        // Keep the unit vector exactly as the HNSW index stores it (and as a reload restores it), so exact
        // cosines of hybrid candidates are bit-identical before and after save/load.
        const inv = 1 / Math.sqrt(norm);
        const unit = new Float32Array(vector.length);
        for (let i = 0; i < vector.length; i++) unit[i] = (vector[i] as number) * inv;
        stored.vector = unit;
      } else {
        stored.vector = vector;
      }
    }
    this.entries.set(doc.id, { doc: stored, num, node });
  }

  private removeEntry(id: string): boolean {
    const e = this.entries.get(id);
    if (e === undefined) return false;
    this.sparse.remove(e.num, e.doc.fields);
    const pn = this.pairNums.get(id);
    if (pn !== undefined && this.pairIndex !== undefined) {
      this.pairIndex.remove(pn, e.doc.fields);
      this.pairNums.delete(id);
    }
    this.termCountCache.delete(e.num);
    this.idByNum[e.num] = undefined;
    if (e.node >= 0 && this.hnsw !== undefined) {
      this.hnsw.delete(e.node);
      this.idByNode[e.node] = undefined;
    }
    this.entries.delete(id);
    return true;
  }

  async update(docs: Doc | readonly Doc[], opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.ensureOpen();
    const list: Doc[] = Array.isArray(docs) ? [...(docs as readonly Doc[])] : [docs as Doc];
    for (const d of list) {
      this.validate(d);
      if (!this.entries.has(d.id)) throw new RagError('RAG_NOT_FOUND', `no document with id ${d.id}`);
    }
    await this.add(list, opts);
  }

  delete(ids: string | readonly string[]): Promise<number> {
    try {
      this.ensureOpen();
      const list = typeof ids === 'string' ? [ids] : [...ids];
      for (const id of list) if (typeof id !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', 'ids must be strings');
      let n = 0;
      for (const id of list) if (this.removeEntry(id)) n++;
      this.counters.deletes += n;
      return Promise.resolve(n);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  get(id: string): Doc | undefined {
    return this.entries.get(id)?.doc;
  }

  analyzer(field?: string): Analyzer {
    const name = field ?? (this.sparse.fields[0] as SparseField).name;
    const a = this.fieldAnalyzers.get(name);
    if (a === undefined) throw new RagError('RAG_INVALID_ARGUMENT', `unknown field ${name}`);
    return a;
  }

  /** Query terms with their frequency as weight, analysed with every field's analyzer. */
  queryTerms(query: string): QueryTerm[] {
    return termsFor(this.sparse.fields, query);
  }

  /** Analysed term counts of a document over every indexed field (for RM3). */
  private termCounts(num: number): Map<string, number> {
    const cached = this.termCountCache.get(num);
    if (cached !== undefined) return cached;
    const out = new Map<string, number>();
    const id = this.idByNum[num];
    const e = id === undefined ? undefined : this.entries.get(id);
    if (e === undefined) return out;
    for (const f of this.sparse.fields) {
      const text = e.doc.fields[f.name];
      if (text === undefined || text === '') continue;
      for (const t of f.analyzer.analyze(text)) out.set(t.term, (out.get(t.term) ?? 0) + 1);
    }
    if (this.termCountCache.size >= 4096) this.termCountCache.clear();
    this.termCountCache.set(num, out);
    return out;
  }

  fieldScores(query: string, id: string): Record<string, number> | undefined {
    this.ensureOpen();
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    return this.sparse.fieldScores(this.queryTerms(query), e.doc.fields, e.num);
  }

  async embedQuery(text: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<Float32Array | undefined> {
    if (this.embedder === undefined) return undefined;
    const [v] = await this.embedder.embed([text], { signal: opts.signal });
    return v;
  }

  private phraseMatcher(phrases: readonly string[]): ((e: Entry) => boolean) | undefined {
    if (phrases.length === 0) return undefined;
    return (e) =>
      phrases.every((ph) =>
        this.sparse.fields.some((f) => {
          const text = e.doc.fields[f.name];
          if (text === undefined) return false;
          const q = f.analyzer.analyze(ph);
          if (q.length === 0) return true;
          const toks = f.analyzer.analyze(text);
          const at = new Map<number, string>();
          for (const t of toks) at.set(t.position, t.term);
          const q0 = q[0] as { term: string; position: number };
          return toks.some((t) => t.term === q0.term && q.every((qt) => at.get(t.position + qt.position - q0.position) === qt.term));
        }),
      );
  }

  async search(query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    this.ensureOpen();
    if (typeof query !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', 'query must be a string');
    const k = opts.k ?? 10;
    if (!Number.isInteger(k) || k < 0) throw new RagError('RAG_INVALID_ARGUMENT', `k must be a non-negative integer, got ${String(opts.k)}`);
    const candidates = opts.candidates ?? Math.max(100, k);
    if (!Number.isInteger(candidates) || candidates < 1) throw new RagError('RAG_INVALID_ARGUMENT', 'candidates must be a positive integer');
    const hasDense = this.hnsw !== undefined && (this.embedder !== undefined || opts.vector !== undefined);
    const mode = opts.mode ?? (hasDense ? 'hybrid' : 'bm25');
    if (mode !== 'bm25' && mode !== 'dense' && mode !== 'hybrid') throw new RagError('RAG_INVALID_ARGUMENT', `unknown mode ${String(mode)}`);
    if (mode !== 'bm25' && !hasDense) {
      throw new RagError('RAG_INVALID_ARGUMENT', `mode ${mode} needs vectors: configure an embedder or pass opts.vector`);
    }
    const fusion = opts.fusion ?? this.fusion;
    const filter = compileFilter(opts.filter);
    checkAborted(opts.signal);
    let qvec: Float32Array | undefined;
    if (mode !== 'bm25') {
      qvec = opts.vector ?? (await this.embedQuery(query, { signal: opts.signal }));
      if (qvec?.length !== this.hnsw?.dimensions) throw new RagError('RAG_INVALID_ARGUMENT', 'query vector has the wrong dimension');
      checkAborted(opts.signal);
      this.ensureOpen();
    }
    // From here on everything is synchronous: the search sees one consistent view of both indexes.
    this.counters.searches++;
    const analyze = (s: string): string[] => this.queryTerms(s).map((t) => t.term);
    const required = (opts.required ?? []).flatMap(analyze);
    const excluded = (opts.excluded ?? []).flatMap(analyze);
    const phrases = opts.phrase ?? [];
    const phraseTerms = phrases.flatMap(analyze);
    const mustSets = [...new Set([...required, ...phraseTerms])].map((t) => this.sparse.docsWith(t));
    const notSets = [...new Set(excluded)].map((t) => this.sparse.docsWith(t));
    const phraseOk = this.phraseMatcher(phrases);
    const acceptNum = (num: number): boolean => {
      for (const s of mustSets) if (!s.has(num)) return false;
      for (const s of notSets) if (s.has(num)) return false;
      if (filter === undefined && phraseOk === undefined) return true;
      const id = this.idByNum[num];
      if (id === undefined) return false;
      const e = this.entries.get(id) as Entry;
      if (filter !== undefined && !filter(e.doc.meta ?? EMPTY_META, id)) return false;
      return phraseOk === undefined || phraseOk(e);
    };
    const needAccept = mustSets.length + notSets.length > 0 || filter !== undefined || phraseOk !== undefined;

    const feedback = resolveFeedback(opts.feedback !== undefined ? opts.feedback : mode === 'hybrid' ? fusion.feedback : undefined);
    const firstPass: HybridFirstPass | undefined = mode === 'hybrid' && fusion.kind === 'convex' ? fusion.firstPass : undefined;
    // A two-pass hybrid feeds the dense query from its fused first pass instead of from BM25.
    const densePrfOn = feedback.dense !== undefined && mode !== 'bm25' && firstPass === undefined;
    const accept = needAccept ? acceptNum : undefined;
    let bm25Ids: string[] = [];
    let bm25Scores: number[] = [];
    let bm25Terms: QueryTerm[] | undefined;
    if (mode !== 'dense' || densePrfOn) {
      let terms = this.queryTerms(query);
      for (const t of new Set([...required, ...phraseTerms])) if (!terms.some((q) => q.term === t)) terms.push({ term: t, weight: 1 });
      const want = mode === 'bm25' ? k : mode === 'dense' ? (feedback.dense as ResolvedDensePrf).docs : candidates;
      const first = feedback.rm3 === undefined ? want : feedback.rm3.docs;
      let top = this.sparse.search(terms, first, accept);
      if (feedback.rm3 !== undefined && top.length > 0) {
        // RM3: the first pass's top documents expand the query; the expanded query is the BM25 signal.
        const docs: FeedbackDoc[] = top.map((h) => ({ terms: this.termCounts(h.doc), score: h.score }));
        terms = expandQueryRm3(terms, docs, feedback.rm3);
        top = this.sparse.search(terms, want, accept);
      } else if (top.length > want) {
        top = top.slice(0, want);
      }
      bm25Terms = terms;
      bm25Ids = top.map((h) => this.idByNum[h.doc] as string);
      bm25Scores = top.map((h) => h.score);
    }
    let denseIds: string[] = [];
    let denseScores: number[] = [];
    let denseSearch: ((v: Float32Array, n: number) => RankedList) | undefined;
    if (mode !== 'bm25' && this.hnsw !== undefined && qvec !== undefined) {
      if (densePrfOn) {
        // Dense PRF: the query vector moves toward the centroid of BM25's top documents.
        const fb = feedback.dense as ResolvedDensePrf;
        const vecs: Float32Array[] = [];
        for (const id of bm25Ids.slice(0, fb.docs)) {
          const v = this.entries.get(id)?.doc.vector;
          if (v !== undefined) vecs.push(v);
        }
        qvec = densePrf(qvec, vecs, fb.beta);
      }
      const acceptNode = needAccept
        ? (node: number): boolean => {
            const id = this.idByNode[node];
            const e = id === undefined ? undefined : this.entries.get(id);
            return e !== undefined && acceptNum(e.num);
          }
        : undefined;
      const hnsw = this.hnsw;
      denseSearch = (v: Float32Array, n: number): RankedList => {
        const hits = hnsw.search(v, n, { accept: acceptNode, ef: opts.efSearch });
        return { ids: hits.map((h) => this.idByNode[h.node] as string), scores: hits.map((h) => h.score) };
      };
      const d = denseSearch(qvec, mode === 'dense' ? k : candidates);
      denseIds = d.ids as string[];
      denseScores = d.scores as number[];
    }
    let hits: SearchHit[];
    if (mode === 'bm25') {
      hits = bm25Ids.map((id, i) => ({ id, score: bm25Scores[i] as number, rank: i + 1, signals: { bm25: bm25Scores[i], bm25Rank: i + 1 } }));
    } else if (mode === 'dense') {
      hits = denseIds.map((id, i) => ({ id, score: denseScores[i] as number, rank: i + 1, signals: { dense: denseScores[i], denseRank: i + 1 } }));
    } else {
      // Candidates from both lists; the signal a candidate is missing is computed exactly, and the word-pair
      // signal (a fusion with a pairs weight) for every candidate.
      const terms = bm25Terms as QueryTerm[];
      let pairsScorer: ((id: string) => number | undefined) | undefined;
      if (usesPairs(fusion)) {
        const index = this.pairs();
        const pairTerms = termsFor(index.fields, query);
        pairsScorer = (id) => {
          const n = this.pairNums.get(id);
          return n === undefined ? undefined : index.scoreDoc(pairTerms, n);
        };
      }
      const scorers = (q: Float32Array): MissingScorers => ({
        bm25: (id) => {
          const e = this.entries.get(id);
          return e === undefined ? undefined : this.sparse.scoreDoc(terms, e.num);
        },
        dense: (id) => {
          const v = this.entries.get(id)?.doc.vector;
          return v === undefined ? undefined : cosine(q, v);
        },
        pairs: pairsScorer,
      });
      const bm25List: RankedList = { ids: bm25Ids, scores: bm25Scores };
      let q = qvec as Float32Array;
      let denseList: RankedList = { ids: denseIds, scores: denseScores };
      if (firstPass !== undefined && denseSearch !== undefined) {
        // Two passes: the fused first pass's top documents give the dense query Rocchio feedback; the dense
        // list is searched again with the moved query.
        const fpDocs = firstPass.docs ?? 3;
        const fpBeta = firstPass.beta ?? 1;
        if (!Number.isInteger(fpDocs) || fpDocs < 0 || !(fpBeta >= 0) || !Number.isFinite(fpBeta)) {
          throw new RagError('RAG_INVALID_ARGUMENT', 'firstPass.docs must be an integer >= 0 and firstPass.beta a finite number >= 0');
        }
        const first: FusedCandidate[] = fuse(
          bm25List,
          denseList,
          { kind: 'convex', alpha: firstPass.alpha, normalization: fusion.kind === 'convex' ? fusion.normalization : undefined, pairs: firstPass.pairs },
          scorers(q),
        );
        const vecs: Float32Array[] = [];
        for (const c of first.slice(0, fpDocs)) {
          const v = this.entries.get(c.id)?.doc.vector;
          if (v !== undefined) vecs.push(v);
        }
        if (vecs.length > 0) {
          q = densePrf(q, vecs, fpBeta);
          denseList = denseSearch(q, candidates);
        }
      }
      hits = fuse(bm25List, denseList, fusion, scorers(q))
        .slice(0, k)
        .map((c, i) => ({
          id: c.id,
          score: c.fused,
          rank: i + 1,
          signals: { bm25: c.bm25, bm25Rank: c.bm25Rank, dense: c.dense, denseRank: c.denseRank, pairs: c.pairs, fused: c.fused },
        }));
    }
    if (mode !== 'dense') {
      const qt = this.queryTerms(query);
      for (const h of hits) {
        const e = this.entries.get(h.id) as Entry;
        h.fieldScores = this.sparse.fieldScores(qt, e.doc.fields, e.num);
      }
    }
    return hits;
  }

  stats(): RetrieverStats {
    return {
      docs: this.entries.size,
      terms: this.sparse.termCount,
      postingsBytes: this.sparse.postingsBytes,
      vectors: this.hnsw?.size ?? 0,
      hnswLayers: this.hnsw?.layers ?? 0,
      deletedPending: this.sparse.tombstones,
      searches: this.counters.searches,
      adds: this.counters.adds,
      deletes: this.counters.deletes,
    };
  }

  async save(dir: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.ensureOpen();
    await saveRetriever(this, dir, opts);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a real-time hybrid retriever: BM25F over the configured fields plus an HNSW index over vectors
 * (given on the docs or computed by the embedder), fused per query by weighted RRF or a convex combination.
 *
 * @param options - see {@link RetrieverOptions}.
 * @returns a {@link Retriever}.
 * @throws RagError `RAG_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createRetriever } from '@dataplane/rag';
 *
 * await using retriever = createRetriever({ fields: { title: { boost: 2 }, text: {} } });
 * await retriever.add([{ id: '1', fields: { title: 'Wings', text: 'Lift of a swept wing' } }]);
 * const hits = await retriever.search('swept wing lift', { k: 5 });
 * ```
 * @since 0.1.0
 */
export function createRetriever(options: RetrieverOptions): Retriever {
  return new HybridRetriever(options);
}
