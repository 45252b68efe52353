/**
 * Hybrid retrieval (BM25 + HNSW, fused), chunking, multi-phase ranking, snippets, answers with verified citations, follow-ups, model routing and an evaluation harness.
 *
 * @packageDocumentation
 */
export { RagError } from './errors.js';
export type { RagErrorCode, RagErrorOptions } from './errors.js';
export type {
  Analyzer,
  ConvexFusion,
  Doc,
  Embedder,
  FieldConfig,
  Fusion,
  HitSignals,
  HnswParams,
  MetaFilter,
  MetaValue,
  Retriever,
  RetrieverOptions,
  RetrieverStats,
  RrfFusion,
  SearchHit,
  SearchOptions,
  Token,
} from './retrieval-types.js';
