import { getAnalyzer } from '../analysis/analyzer.js';
import { RagError } from '../errors.js';
import type { Analyzer } from '../retrieval-types.js';
import { splitSentences } from './sentences.js';

/** A highlighted query term in a snippet (offsets relative to the passage text). */
export interface Highlight {
  start: number;
  end: number;
  term: string;
}

/** One snippet sentence. */
export interface Snippet {
  text: string;
  /** Offsets in the passage text. */
  start: number;
  end: number;
  /** Query-match score (distinct query terms matched, weighted by `idf` when given, with a density bonus). */
  score: number;
  highlights: Highlight[];
  /** The sentence with highlights wrapped in the markers. */
  marked: string;
}

/** Options of {@link extractSnippets}. */
export interface SnippetOptions {
  /** Number of sentences. @defaultValue 2 */
  count?: number | undefined;
  /** Analyzer for matching. @defaultValue `getAnalyzer('english')` */
  analyzer?: Analyzer | undefined;
  /** Term weights (e.g. idf); 1 when absent. */
  idf?: ((term: string) => number) | undefined;
  /** Highlight markers. @defaultValue `['**', '**']` */
  markers?: readonly [string, string] | undefined;
}

/**
 * Scores a sentence for a query term set: weighted distinct matches plus a small density bonus.
 *
 * @internal
 */
export function scoreTerms(terms: readonly string[], query: ReadonlySet<string>, idf?: (t: string) => number): number {
  if (terms.length === 0 || query.size === 0) return 0;
  const seen = new Set<string>();
  let s = 0;
  let hits = 0;
  for (const t of terms) {
    if (!query.has(t)) continue;
    hits++;
    if (seen.has(t)) continue;
    seen.add(t);
    s += idf === undefined ? 1 : idf(t);
  }
  return s === 0 ? 0 : s + (0.5 * hits) / terms.length;
}

/**
 * The best sentences of a passage for a query, in passage order, with query terms highlighted.
 *
 * @param query - the question.
 * @param text - the passage text.
 * @param options - count, analyzer, weights and markers.
 * @returns up to `count` snippets with offsets into `text` (none when nothing matches).
 * @throws RagError `RAG_INVALID_ARGUMENT` when `count` < 1.
 * @example
 * ```ts
 * import { extractSnippets } from '@dataplane/rag';
 *
 * extractSnippets('lift of wings', 'Clouds form. Wings produce lift. Rain falls.')[0]?.marked; // '**Wings** produce **lift**.'
 * ```
 * @since 0.1.0
 */
export function extractSnippets(query: string, text: string, options: SnippetOptions = {}): Snippet[] {
  const count = options.count ?? 2;
  if (!Number.isInteger(count) || count < 1) throw new RagError('RAG_INVALID_ARGUMENT', `count must be an integer >= 1, got ${count}`);
  const analyzer = options.analyzer ?? getAnalyzer('english');
  const q = new Set(analyzer.analyze(query).map((t) => t.term));
  const [open, close] = options.markers ?? ['**', '**'];
  const scored = splitSentences(text).map((s, i) => {
    const toks = analyzer.analyze(s.text);
    return { s, i, toks, score: scoreTerms(toks.map((t) => t.term), q, options.idf) };
  });
  const best = scored
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, count)
    .sort((a, b) => a.i - b.i);
  return best.map(({ s, toks, score }) => {
    const highlights = toks.filter((t) => q.has(t.term)).map((t) => ({ start: s.start + t.start, end: s.start + t.end, term: t.term }));
    let marked = '';
    let at = s.start;
    for (const h of highlights) {
      marked += text.slice(at, h.start) + open + text.slice(h.start, h.end) + close;
      at = h.end;
    }
    marked += text.slice(at, s.end);
    return { text: s.text, start: s.start, end: s.end, score, highlights, marked };
  });
}
