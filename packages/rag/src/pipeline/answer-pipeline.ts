import { chunkDocument } from '../chunking/chunk.js';
import type { ChunkFormat, ChunkOptions } from '../chunking/types.js';
import type { AnswerSource, Generator, Usage } from '../answer/types.js';
import { verifyCitations, type AnswerSentence } from '../answer/verify.js';
import { rewriteFollowUp, type Session } from '../conversation/session.js';
import { RagError } from '../errors.js';
import type { MultiPhaseRanker } from '../ranking/multi-phase.js';
import type { Embedder, MetaValue, Retriever, SearchOptions } from '../retrieval-types.js';
import type { RouteDecision, Router } from '../routing/router.js';
import { extractSnippets, type Snippet } from '../snippets/snippet.js';

/** A source document for {@link AnswerPipeline.indexDocuments}. */
export interface SourceDocument {
  id: string;
  text: string;
  /** @defaultValue `'text'` */
  format?: ChunkFormat | undefined;
  title?: string | undefined;
  meta?: Record<string, MetaValue> | undefined;
}

/** A cited source of an answer. */
export interface AnswerSourceRef {
  /** Citation number. */
  n: number;
  /** Passage id (`docId#index`). */
  id: string;
  docId: string;
  title: string;
  /** Character range in the source document, when known. */
  start?: number | undefined;
  end?: number | undefined;
  score: number;
  snippets: Snippet[];
}

/** The answer to a question. */
export interface AnswerResult {
  /** The answer text (verified sentences, `[n]` citations kept). */
  answer: string;
  sentences: AnswerSentence[];
  sources: AnswerSourceRef[];
  usage: Usage;
  /** The standalone query used for retrieval. */
  query: string;
  /** The routing decision, when a router is configured. */
  route?: RouteDecision | undefined;
  model: string;
  /** The session including this turn (a new object; the input is not mutated). */
  session: Session;
}

/** Options of {@link createAnswerPipeline}. */
export interface AnswerPipelineOptions {
  retriever: Retriever;
  generator: Generator;
  /** Multi-phase ranker used instead of plain `retriever.search`. */
  ranker?: MultiPhaseRanker | undefined;
  /** Router picking the model per question. */
  router?: Router | undefined;
  /** Embedder for embedding support in verification. */
  embedder?: Embedder | undefined;
  /** Passages given to the generator. @defaultValue 5 */
  k?: number | undefined;
  /** What to do with unsupported sentences. @defaultValue `'drop'` */
  unsupported?: 'drop' | 'flag' | undefined;
  /** Generator used to rewrite follow-ups (rules only when absent). */
  rewriter?: Generator | undefined;
  /** Extra search options (mode, filter...). */
  search?: Omit<SearchOptions, 'k' | 'signal'> | undefined;
  /** Chunking of {@link AnswerPipeline.indexDocuments}. */
  chunking?: Omit<ChunkOptions, 'docId' | 'format'> | undefined;
}

/** Options of {@link AnswerPipeline.ask}. */
export interface AskOptions {
  session?: Session | undefined;
  onToken?: ((delta: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** Answers questions from a live index. */
export interface AnswerPipeline {
  ask(question: string, opts?: AskOptions): Promise<AnswerResult>;
  /** Chunks and (re)indexes documents; passages of a re-indexed document are replaced. Visible to the next question. */
  indexDocuments(docs: readonly SourceDocument[], opts?: { signal?: AbortSignal | undefined }): Promise<number>;
  /** Removes a document's passages. */
  removeDocument(docId: string): Promise<number>;
}

/**
 * The answer pipeline: follow-up rewriting, routing, fresh retrieval (or multi-phase ranking), snippets,
 * cited generation and citation verification. The answer says nothing that was not retrieved: unsupported
 * sentences are dropped (or flagged).
 *
 * @param options - retriever, generator and optional stages.
 * @returns the pipeline.
 * @throws RagError `RAG_INVALID_ARGUMENT` on invalid options; `ask` rejects with `RAG_INVALID_ARGUMENT`
 * (empty question), `RAG_ABORTED`, or the generator's `RAG_GENERATOR_FAILED`.
 * @example
 * ```ts
 * import { createAnswerPipeline, createExtractiveGenerator, createRetriever } from '@dataplane/rag';
 *
 * const retriever = createRetriever({ fields: { title: {}, text: {} } });
 * const rag = createAnswerPipeline({ retriever, generator: createExtractiveGenerator() });
 * await rag.indexDocuments([{ id: 'wings', format: 'markdown', text: '# Wings\n\nWings produce lift.' }]);
 * const res = await rag.ask('what produces lift?');
 * console.log(res.answer, res.sources);
 * ```
 * @since 0.1.0
 */
export function createAnswerPipeline(options: AnswerPipelineOptions): AnswerPipeline {
  if (options.retriever === undefined || options.generator === undefined) throw new RagError('RAG_INVALID_ARGUMENT', 'retriever and generator are required');
  const k = options.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RagError('RAG_INVALID_ARGUMENT', `k must be an integer >= 1, got ${k}`);
  const { retriever, generator } = options;
  const passagesOf = new Map<string, string[]>();
  const probe = (docId: string): string[] => {
    const ids: string[] = [];
    for (let i = 0; retriever.get(`${docId}#${i}`) !== undefined; i++) ids.push(`${docId}#${i}`);
    return ids;
  };

  return {
    async indexDocuments(docs, opts = {}) {
      let n = 0;
      for (const d of docs) {
        if (typeof d.id !== 'string' || d.id === '' || typeof d.text !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', 'each document needs a non-empty id and a text');
        const passages = chunkDocument(d.text, { ...options.chunking, format: d.format, docId: d.id });
        // After a reload the map is empty: probe the stored ids `${docId}#i` so stale passages still go.
        const old = passagesOf.get(d.id) ?? probe(d.id);
        const keep = new Set(passages.map((p) => p.id));
        const stale = old.filter((id) => !keep.has(id));
        await retriever.add(
          passages.map((p) => ({
            id: p.id,
            fields: { title: [d.title, ...p.headingPath].filter((x) => x !== undefined && x !== '').join(' > '), text: p.text },
            meta: { ...d.meta, docId: d.id, start: p.start, end: p.end },
          })),
          opts,
        );
        if (stale.length > 0) await retriever.delete(stale);
        passagesOf.set(d.id, passages.map((p) => p.id));
        n += passages.length;
      }
      return n;
    },
    async removeDocument(docId) {
      const ids = passagesOf.get(docId) ?? probe(docId);
      passagesOf.delete(docId);
      return ids.length === 0 ? 0 : retriever.delete(ids);
    },
    async ask(question, opts = {}) {
      if (typeof question !== 'string' || question.trim() === '') throw new RagError('RAG_INVALID_ARGUMENT', 'question must be a non-empty string');
      if (opts.signal?.aborted === true) throw new RagError('RAG_ABORTED', 'ask aborted', { cause: opts.signal.reason });
      const session: Session = opts.session === undefined ? { id: crypto.randomUUID(), turns: [] } : structuredClone(opts.session);
      const query = await rewriteFollowUp(question, session, { generator: options.rewriter, signal: opts.signal });
      const route = options.router === undefined ? undefined : await options.router.route(query, { signal: opts.signal });
      const searchOpts: SearchOptions = { ...options.search, k, signal: opts.signal };
      const hits = options.ranker !== undefined ? await options.ranker.search(query, searchOpts) : await retriever.search(query, searchOpts);
      const analyzer = retriever.analyzer('text');
      const sources: AnswerSource[] = [];
      const refs: AnswerSourceRef[] = [];
      for (const h of hits) {
        const doc = retriever.get(h.id);
        if (doc === undefined) continue;
        const n = sources.length + 1;
        const text = doc.fields.text ?? Object.values(doc.fields).join('\n');
        const title = doc.fields.title ?? '';
        sources.push({ n, id: h.id, text, title });
        const meta = doc.meta ?? {};
        refs.push({
          n,
          id: h.id,
          docId: typeof meta.docId === 'string' ? meta.docId : h.id,
          title,
          start: typeof meta.start === 'number' ? meta.start : undefined,
          end: typeof meta.end === 'number' ? meta.end : undefined,
          score: h.score,
          snippets: extractSnippets(query, text, { analyzer }),
        });
      }
      const gen = await generator.generate({ question: query, sources, model: route?.model, onToken: opts.onToken, signal: opts.signal });
      const verified = await verifyCitations(gen.text, sources, { analyzer, embedder: options.embedder, signal: opts.signal });
      const kept = (options.unsupported ?? 'drop') === 'drop' ? verified.filter((s) => s.supported) : verified;
      const answer =
        kept.length === 0
          ? 'The retrieved sources do not support an answer to this question.'
          : kept.map((s) => `${s.text}${s.citations.length > 0 ? ` ${s.citations.map((c) => `[${c}]`).join('')}` : ''}${s.supported ? '' : ' (unsupported)'}`).join(' ');
      const cited = new Set(kept.flatMap((s) => s.citations));
      session.turns.push({ question, standalone: query, answer, sources: refs.filter((r) => cited.has(r.n)).map((r) => r.id) });
      return { answer, sentences: kept, sources: refs, usage: gen.usage, query, route, model: gen.model, session };
    },
  };
}
