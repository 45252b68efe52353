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
  DensePrfOptions,
  Doc,
  Embedder,
  FeedbackOptions,
  FieldConfig,
  Fusion,
  HitSignals,
  HnswParams,
  HybridFirstPass,
  MetaFilter,
  MetaValue,
  Retriever,
  RetrieverOptions,
  Rm3Options,
  RetrieverStats,
  RrfFusion,
  ScoreNormalization,
  SearchHit,
  SearchOptions,
  Token,
} from './retrieval-types.js';
export { createAnalyzer, getAnalyzer } from './analysis/analyzer.js';
export type { AnalyzerOptions } from './analysis/analyzer.js';
export { ENGLISH_STOP_WORDS } from './analysis/stop-words.js';
export { HnswIndex } from './dense/hnsw.js';
export type { HnswOptions, VectorHit } from './dense/hnsw.js';
export { createGloveEmbedder } from './embed/glove-embedder.js';
export type { GloveEmbedderOptions } from './embed/glove-embedder.js';
export type { WordVectors } from './embed/glove-format.js';
export { createLsaEmbedder, loadLsaEmbedder } from './embed/lsa-embedder.js';
export type { LoadLsaEmbedderOptions, LsaEmbedder, LsaEmbedderOptions } from './embed/lsa-embedder.js';
export { blendEmbedders } from './embed/blend-embedders.js';
export type { BlendPart } from './embed/blend-embedders.js';
export { createRetriever, DEFAULT_FUSION, LSA_FUSION, LSA_TWO_PASS_FUSION } from './hybrid/retriever.js';
export { fuse } from './hybrid/fusion.js';
export type { FusedCandidate, MissingScorers, RankedList } from './hybrid/fusion.js';
export { densePrf, expandQueryRm3 } from './hybrid/feedback.js';
export type { FeedbackDoc, WeightedTerm } from './hybrid/feedback.js';
export { loadRetriever } from './persist/load.js';
export type { LoadRetrieverOptions } from './persist/load.js';
export { evaluateRun, mrrAt, ndcgAt, recallAt } from './eval/metrics.js';
export type { QueryMetrics, Qrels, RunEntry } from './eval/metrics.js';
export { loadBeir } from './eval/beir.js';
export type { BeirDataset, BeirDoc } from './eval/beir.js';
export { evaluateRetriever } from './eval/run-eval.js';
export type { EvalProgress, EvalResult, EvaluateOptions } from './eval/run-eval.js';
export { chunkDocument } from './chunking/chunk.js';
export type { ChunkFormat, ChunkOptions, Passage } from './chunking/types.js';
export { createFeatureExtractor, FEATURE_NAMES } from './ranking/features.js';
export type { FeatureExtractor, FeatureOptions } from './ranking/features.js';
export { LinearRanker, trainRanker } from './ranking/linear-ranker.js';
export type { LinearRankerJson, TrainingQuery, TrainOptions } from './ranking/linear-ranker.js';
export { createMultiPhaseRanker } from './ranking/multi-phase.js';
export type { MultiPhaseOptions, MultiPhaseRanker, RankedHit, Reranker } from './ranking/multi-phase.js';
export { extractSnippets } from './snippets/snippet.js';
export type { Highlight, Snippet, SnippetOptions } from './snippets/snippet.js';
export { createOpenAiGenerator } from './answer/openai-generator.js';
export type { OpenAiGeneratorOptions } from './answer/openai-generator.js';
export { createExtractiveGenerator } from './answer/extractive-generator.js';
export type { ExtractiveGeneratorOptions } from './answer/extractive-generator.js';
export { DEFAULT_SYSTEM_PROMPT } from './answer/prompt.js';
export type { AnswerSource, ChatMessage, GenerateRequest, GenerateResult, Generator, Usage } from './answer/types.js';
export { verifyCitations } from './answer/verify.js';
export type { AnswerSentence, VerifyOptions } from './answer/verify.js';
export { classifyQuery, createRouter } from './routing/router.js';
export type { ClassifierHook, Complexity, Intent, QueryClass, RouteDecision, RouteModel, Router, RouterOptions } from './routing/router.js';
export { createSession, rewriteFollowUp } from './conversation/session.js';
export type { RewriteOptions, Session, Turn } from './conversation/session.js';
export { createAnswerPipeline } from './pipeline/answer-pipeline.js';
export type { AnswerPipeline, AnswerPipelineOptions, AnswerResult, AnswerSourceRef, AskOptions, SourceDocument } from './pipeline/answer-pipeline.js';
