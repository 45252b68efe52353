import { RagError } from '../errors.js';
import { buildMessages, DEFAULT_SYSTEM_PROMPT } from './prompt.js';
import type { GenerateRequest, GenerateResult, Generator, Usage } from './types.js';

/** Options of {@link createOpenAiGenerator}. */
export interface OpenAiGeneratorOptions {
  /** Base URL up to `/v1` (the client posts to `${baseUrl}/chat/completions`). @defaultValue `'https://api.openai.com/v1'` */
  baseUrl?: string | undefined;
  /** API key sent as a bearer token (omitted when undefined). */
  apiKey?: string | undefined;
  /** Default model. */
  model: string;
  /** Stream with server-sent events. @defaultValue true */
  stream?: boolean | undefined;
  /** Sampling temperature. @defaultValue 0 */
  temperature?: number | undefined;
  /** System prompt. @defaultValue {@link DEFAULT_SYSTEM_PROMPT} */
  systemPrompt?: string | undefined;
  /** The fetch implementation. @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch | undefined;
  /** Extra headers. */
  headers?: Record<string, string> | undefined;
}

interface ChoiceChunk {
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
  model?: string;
  error?: { message?: string };
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function mapUsage(u: ChoiceChunk['usage'], prompt: string, text: string): Usage {
  const promptTokens = u?.prompt_tokens ?? Math.ceil(prompt.length / 4);
  const completionTokens = u?.completion_tokens ?? Math.ceil(text.length / 4);
  return { promptTokens, completionTokens, totalTokens: u?.total_tokens ?? promptTokens + completionTokens };
}

function httpError(status: number, body: string, retryAfter: string | null): RagError {
  let message = body.slice(0, 300);
  try {
    const j = JSON.parse(body) as ChoiceChunk;
    if (typeof j.error?.message === 'string') message = j.error.message;
  } catch {
    // not JSON: keep the raw text
  }
  const retryable = status === 429 || status >= 500;
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  return new RagError('RAG_GENERATOR_FAILED', `chat completions HTTP ${status}: ${message}`, {
    retryable,
    retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : undefined,
  });
}

/**
 * A {@link Generator} over any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, llama.cpp,
 * Ollama...), with SSE streaming.
 *
 * @param options - endpoint, key and model.
 * @returns the generator.
 * @throws RagError `RAG_INVALID_ARGUMENT` when the model or base URL is invalid; `generate` rejects with
 * `RAG_GENERATOR_FAILED` (HTTP errors, retryable for 429/5xx; malformed responses) or `RAG_ABORTED`.
 * @example
 * ```ts
 * import { createOpenAiGenerator } from '@dataplane/rag';
 *
 * const gen = createOpenAiGenerator({ baseUrl: 'http://localhost:11434/v1', model: 'llama3.2' });
 * const res = await gen.generate({ question: 'What is lift?', sources: [{ n: 1, id: 'a#0', text: 'Lift is...' }] });
 * ```
 * @since 0.1.0
 */
export function createOpenAiGenerator(options: OpenAiGeneratorOptions): Generator {
  if (typeof options.model !== 'string' || options.model === '') throw new RagError('RAG_INVALID_ARGUMENT', 'model is required');
  const base = (options.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  try {
    new URL(base);
  } catch (err) {
    throw new RagError('RAG_INVALID_ARGUMENT', `invalid baseUrl ${base}`, { cause: err });
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  const stream = options.stream ?? true;
  return {
    id: `openai:${options.model}`,
    async generate(req: GenerateRequest): Promise<GenerateResult> {
      if (req.signal?.aborted === true) throw new RagError('RAG_ABORTED', 'generation aborted', { cause: req.signal.reason });
      const model = req.model ?? options.model;
      const messages = buildMessages(req, options.systemPrompt ?? DEFAULT_SYSTEM_PROMPT);
      const prompt = messages.map((m) => m.content).join('\n');
      const body: Record<string, unknown> = { model, messages, temperature: options.temperature ?? 0, stream };
      if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
      if (stream) body.stream_options = { include_usage: true };
      let res: Response;
      try {
        res = await doFetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: stream ? 'text/event-stream' : 'application/json',
            ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }),
            ...options.headers,
          },
          body: JSON.stringify(body),
          signal: req.signal ?? null,
        });
      } catch (err) {
        if (aborted(req.signal)) throw new RagError('RAG_ABORTED', 'generation aborted', { cause: err });
        throw new RagError('RAG_GENERATOR_FAILED', `chat completions request failed: ${(err as Error).message}`, { cause: err, retryable: true });
      }
      if (!res.ok) throw httpError(res.status, await res.text().catch(() => ''), res.headers.get('retry-after'));
      try {
        if (!stream) {
          const raw = await res.text();
          let j: ChoiceChunk;
          try {
            j = JSON.parse(raw) as ChoiceChunk;
          } catch (err) {
            throw new RagError('RAG_GENERATOR_FAILED', 'chat completions returned invalid JSON', { cause: err });
          }
          const choice = j.choices?.[0];
          const text = choice?.message?.content;
          if (typeof text !== 'string') throw new RagError('RAG_GENERATOR_FAILED', 'chat completions response has no choices[0].message.content');
          req.onToken?.(text);
          return { text, model: j.model ?? model, usage: mapUsage(j.usage, prompt, text), finishReason: choice?.finish_reason ?? 'stop' };
        }
        return await readStream(res, req, model, prompt);
      } catch (err) {
        if (RagError.is(err)) throw err;
        if (aborted(req.signal)) throw new RagError('RAG_ABORTED', 'generation aborted', { cause: err });
        throw new RagError('RAG_GENERATOR_FAILED', `chat completions stream failed: ${(err as Error).message}`, { cause: err, retryable: true });
      }
    },
  };
}

async function readStream(res: Response, req: GenerateRequest, model: string, prompt: string): Promise<GenerateResult> {
  if (res.body === null) throw new RagError('RAG_GENERATOR_FAILED', 'chat completions stream has no body');
  const decoder = new TextDecoder();
  let buf = '';
  let text = '';
  let finishReason = '';
  let usage: ChoiceChunk['usage'];
  let gotModel = model;
  let done = false;
  const handleEvent = (data: string): void => {
    if (data === '[DONE]') {
      done = true;
      return;
    }
    let j: ChoiceChunk;
    try {
      j = JSON.parse(data) as ChoiceChunk;
    } catch (err) {
      throw new RagError('RAG_GENERATOR_FAILED', `malformed SSE event: ${data.slice(0, 100)}`, { cause: err });
    }
    if (j.error !== undefined) throw new RagError('RAG_GENERATOR_FAILED', `stream error: ${j.error.message ?? 'unknown'}`, { retryable: true });
    if (typeof j.model === 'string') gotModel = j.model;
    if (j.usage !== undefined && j.usage !== null) usage = j.usage;
    const c = j.choices?.[0];
    const delta = c?.delta?.content;
    if (typeof delta === 'string' && delta !== '') {
      text += delta;
      req.onToken?.(delta);
    }
    if (typeof c?.finish_reason === 'string') finishReason = c.finish_reason;
  };
  const reader = res.body.getReader();
  try {
    while (!done) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      buf += decoder.decode(value, { stream: true });
      let idx: number;
      while (!done && (idx = buf.search(/\r?\n\r?\n/)) >= 0) {
        const event = buf.slice(0, idx);
        buf = buf.slice(idx + (buf[idx] === '\r' ? 4 : 2));
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data !== '') handleEvent(data);
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  if (!done) throw new RagError('RAG_GENERATOR_FAILED', 'chat completions stream ended without [DONE]', { retryable: true });
  return { text, model: gotModel, usage: mapUsage(usage, prompt, text), finishReason: finishReason === '' ? 'stop' : finishReason };
}
