import { getAnalyzer } from '../analysis/analyzer.js';
import { RagError } from '../errors.js';
import type { Analyzer } from '../retrieval-types.js';
import { splitSentences } from '../snippets/sentences.js';
import { scoreTerms } from '../snippets/snippet.js';
import type { GenerateRequest, GenerateResult, Generator } from './types.js';

/** Options of {@link createExtractiveGenerator}. */
export interface ExtractiveGeneratorOptions {
  /** Maximum sentences in an answer. @defaultValue 3 */
  maxSentences?: number | undefined;
  /** Analyzer for matching. @defaultValue `getAnalyzer('english')` */
  analyzer?: Analyzer | undefined;
  /** Text returned when no source sentence matches the question. @defaultValue `'The sources do not answer this question.'` */
  noAnswer?: string | undefined;
}

/**
 * An offline {@link Generator} that composes the answer only from retrieved sentences: the sentences that
 * best match the question (distinct query terms, earlier sources first on ties, near-duplicates skipped),
 * each followed by the `[n]` citation of its source (and of every other source containing the same sentence).
 *
 * @param options - sentence budget and analyzer.
 * @returns the generator (model id `extractive`).
 * @throws RagError `RAG_INVALID_ARGUMENT` when `maxSentences` < 1; `generate` rejects with `RAG_ABORTED` when aborted.
 * @example
 * ```ts
 * import { createExtractiveGenerator } from '@dataplane/rag';
 *
 * const gen = createExtractiveGenerator();
 * const res = await gen.generate({ question: 'what produces lift', sources: [{ n: 1, id: 'a#0', text: 'Wings produce lift.' }] });
 * res.text; // 'Wings produce lift. [1]'
 * ```
 * @since 0.1.0
 */
export function createExtractiveGenerator(options: ExtractiveGeneratorOptions = {}): Generator {
  const max = options.maxSentences ?? 3;
  if (!Number.isInteger(max) || max < 1) throw new RagError('RAG_INVALID_ARGUMENT', `maxSentences must be an integer >= 1, got ${max}`);
  const analyzer = options.analyzer ?? getAnalyzer('english');
  const noAnswer = options.noAnswer ?? 'The sources do not answer this question.';
  return {
    id: 'extractive',
    generate(req: GenerateRequest): Promise<GenerateResult> {
      if (req.signal?.aborted === true) return Promise.reject(new RagError('RAG_ABORTED', 'generation aborted', { cause: req.signal.reason }));
      const q = new Set(analyzer.analyze(req.question).map((t) => t.term));
      const cands: { text: string; n: number; order: number; terms: Set<string>; score: number }[] = [];
      let order = 0;
      for (const src of req.sources) {
        for (const s of proseBlocks(src.text).flatMap((b) => splitSentences(b))) {
          const terms = analyzer.analyze(s.text).map((t) => t.term);
          const score = scoreTerms(terms, q);
          if (score > 0) cands.push({ text: s.text.replace(/\s+/g, ' '), n: src.n, order: order++, terms: new Set(terms), score });
        }
      }
      cands.sort((a, b) => b.score - a.score || a.order - b.order);
      const chosen: { text: string; cites: Set<number>; terms: Set<string>; order: number }[] = [];
      for (const c of cands) {
        const dup = chosen.find((x) => jaccard(x.terms, c.terms) > 0.7);
        if (dup !== undefined) {
          dup.cites.add(c.n);
          continue;
        }
        if (chosen.length < max) chosen.push({ text: c.text, cites: new Set([c.n]), terms: c.terms, order: c.order });
      }
      chosen.sort((a, b) => a.order - b.order);
      const text =
        chosen.length === 0
          ? noAnswer
          : chosen.map((c) => `${/[.!?]["')\]]*$/.test(c.text) ? c.text : `${c.text}.`} ${[...c.cites].sort((a, b) => a - b).map((n) => `[${n}]`).join('')}`).join(' ');
      const promptTokens = req.sources.reduce((s, x) => s + Math.ceil(x.text.length / 4), Math.ceil(req.question.length / 4));
      const completionTokens = Math.ceil(text.length / 4);
      req.onToken?.(text);
      return Promise.resolve({ text, model: 'extractive', usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }, finishReason: 'stop' });
    },
  };
}

/**
 * The prose of a (possibly Markdown) source as blocks of text: table rows, code fences and their contents,
 * headings and horizontal rules are left out, list markers and quote markers are dropped, so that an answer
 * never quotes a table fragment or a heading glued to a sentence.
 */
function proseBlocks(text: string): string[] {
  const blocks: string[] = [];
  let cur: string[] = [];
  let fence = false;
  const end = (): void => {
    if (cur.length > 0) blocks.push(cur.join(' '));
    cur = [];
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (/^(```|~~~)/.test(line)) {
      fence = !fence;
      end();
      continue;
    }
    const structural = fence || line === '' || /^#{1,6}\s/.test(line) || /^\|.*\|$/.test(line) || (line.match(/\|/g)?.length ?? 0) >= 2 || /^([-*_=]\s*){3,}$/.test(line);
    if (structural) {
      end();
      continue;
    }
    const prose = line.replace(/^(?:>\s*)+/, '');
    const item = prose.replace(/^(?:[-*+]|\d+[.)])\s+/, '');
    if (item !== prose) end(); // a list item starts its own block
    cur.push(item);
  }
  end();
  return blocks;
}

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let inter = 0;
  for (const t of a) if (b.has(t)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 1 : inter / union;
}
