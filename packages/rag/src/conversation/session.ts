import { getAnalyzer } from '../analysis/analyzer.js';
import type { Generator } from '../answer/types.js';

/** One turn of a conversation. */
export interface Turn {
  question: string;
  /** The standalone query used for retrieval. */
  standalone: string;
  answer: string;
  /** Passage ids cited. */
  sources: string[];
}

/** A conversation: a plain, JSON-serialisable object. */
export interface Session {
  id: string;
  turns: Turn[];
}

/**
 * Creates an empty session.
 *
 * @param id - session id. @defaultValue a random UUID
 * @returns the session.
 * @example
 * ```ts
 * import { createSession } from '@dataplane/rag';
 *
 * const s = createSession('chat-1'); // { id: 'chat-1', turns: [] }
 * ```
 * @since 0.1.0
 */
export function createSession(id: string = crypto.randomUUID()): Session {
  return { id, turns: [] };
}

const PRONOUN = /\b(it|its|they|them|their|this|that|these|those|he|she|his|her|one|ones)\b/i;
const LEAD = /^\s*(and|also|what about|how about|and what about|what of)\b[\s,]*/i;

/** Options of {@link rewriteFollowUp}. */
export interface RewriteOptions {
  /** A generator used to rewrite when the rules detect a follow-up (its text answer is the query). */
  generator?: Generator | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Rewrites a follow-up question into a standalone query using the conversation history: when the question
 * uses a pronoun, starts with "and / what about", or has fewer than three content terms, the content words
 * of the previous standalone query missing from the question are appended (or, with a generator, it is
 * asked to rewrite). Self-contained questions are returned unchanged.
 *
 * @param question - the new question.
 * @param session - the conversation so far.
 * @param options - optional generator.
 * @returns the standalone query.
 * @example
 * ```ts
 * import { rewriteFollowUp } from '@dataplane/rag';
 *
 * await rewriteFollowUp('what about its drag?', { id: 's', turns: [{ question: 'delta wing lift', standalone: 'delta wing lift', answer: '', sources: [] }] });
 * // 'what about its drag? delta wing lift'
 * ```
 * @since 0.1.0
 */
export async function rewriteFollowUp(question: string, session: Session | undefined, options: RewriteOptions = {}): Promise<string> {
  const last = session?.turns[session.turns.length - 1];
  if (last === undefined) return question;
  const analyzer = getAnalyzer('english');
  const qTerms = new Set(analyzer.analyze(question).map((t) => t.term));
  const followUp = PRONOUN.test(question) || LEAD.test(question) || qTerms.size < 3;
  if (!followUp) return question;
  if (options.generator !== undefined) {
    const history = session?.turns.slice(-3).map((t) => `Q: ${t.standalone}`).join('\n') ?? '';
    const res = await options.generator.generate({
      question: `Rewrite the last question as a standalone search query. Reply with the query only.\n${history}\nLast question: ${question}`,
      sources: [],
      signal: options.signal,
    });
    const text = res.text.trim().split('\n')[0]?.trim() ?? '';
    if (text !== '') return text;
  }
  const missing: string[] = [];
  for (const tok of analyzer.analyze(last.standalone)) {
    if (!qTerms.has(tok.term)) missing.push(last.standalone.slice(tok.start, tok.end));
  }
  return missing.length === 0 ? question : `${question.trim()} ${[...new Set(missing)].join(' ')}`;
}
