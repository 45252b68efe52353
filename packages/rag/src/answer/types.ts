/** A numbered source given to a generator; answers cite it as `[n]`. */
export interface AnswerSource {
  /** 1-based citation number. */
  n: number;
  /** Passage id. */
  id: string;
  /** Passage text. */
  text: string;
  /** Title or heading path, if any. */
  title?: string | undefined;
}

/** Token usage of a generation. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** A chat message (OpenAI-compatible roles). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Request to a {@link Generator}. */
export interface GenerateRequest {
  /** The standalone question. */
  question: string;
  /** The retrieved passages the answer may use. */
  sources: readonly AnswerSource[];
  /** Model to use (from the router); the generator's default when omitted. */
  model?: string | undefined;
  /** Prior conversation turns (for chat models). */
  history?: readonly ChatMessage[] | undefined;
  /** Maximum completion tokens. @defaultValue generator-specific */
  maxTokens?: number | undefined;
  /** Called with each streamed text delta. */
  onToken?: ((delta: string) => void) | undefined;
  /** Aborts the generation with `RAG_ABORTED`. */
  signal?: AbortSignal | undefined;
}

/** Result of a {@link Generator}. */
export interface GenerateResult {
  /** The answer text, sentences citing sources as `[n]`. */
  text: string;
  /** The model that produced it. */
  model: string;
  usage: Usage;
  /** Why generation stopped (`stop`, `length`...). */
  finishReason: string;
}

/**
 * Produces an answer from a question and numbered sources.
 *
 * @since 0.1.0
 */
export interface Generator {
  /** Stable id for logs and results. */
  readonly id: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
}
