import type { AnswerSource, ChatMessage, GenerateRequest } from './types.js';

/** The default system prompt: answer only from sources, cite each sentence. */
export const DEFAULT_SYSTEM_PROMPT =
  'Answer the question using only the numbered sources. End every sentence with the numbers of the sources that support it, like [1] or [1][2]. If the sources do not contain the answer, say so.';

function renderSources(sources: readonly AnswerSource[]): string {
  return sources.map((s) => `[${s.n}]${s.title !== undefined && s.title !== '' ? ` ${s.title}:` : ''} ${s.text}`).join('\n\n');
}

/**
 * Builds the chat messages of a grounded answer request.
 *
 * @internal
 */
export function buildMessages(req: GenerateRequest, systemPrompt = DEFAULT_SYSTEM_PROMPT): ChatMessage[] {
  return [
    { role: 'system', content: systemPrompt },
    ...(req.history ?? []),
    { role: 'user', content: `Sources:\n${renderSources(req.sources)}\n\nQuestion: ${req.question}` },
  ];
}
