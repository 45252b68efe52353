import { stemmer as porter } from '@orama/stemmers/english';
import { RagError } from '../errors.js';
import type { Analyzer, Token } from '../retrieval-types.js';
import { ENGLISH_STOP_WORDS } from './stop-words.js';

/** Options of {@link createAnalyzer}. */
export interface AnalyzerOptions {
  /** Stable name persisted with indexes. @defaultValue `'custom'` */
  name?: string | undefined;
  /** Stem words with the Snowball English (Porter2) stemmer. @defaultValue true */
  stem?: boolean | undefined;
  /** Stop words to drop (positions are kept). @defaultValue {@link ENGLISH_STOP_WORDS} */
  stopWords?: ReadonlySet<string> | undefined;
  /** Keep the whole text as a single token (for ids, tags). @defaultValue false */
  keyword?: boolean | undefined;
  /** Drop tokens shorter than this many characters (numbers are always kept). @defaultValue 1 */
  minLength?: number | undefined;
}

// Words and numbers: letters/digits/underscore runs; decimals (3.14) and versions (1.2.3) stay whole.
const TOKEN_RE = /\d+(?:[.,]\d+)+|[\p{L}\p{M}\p{N}_]+/gu;
const HAS_DIGIT_OR_UNDERSCORE = /[\d_]/;

/**
 * Creates an analyzer: Unicode NFKC normalisation, case folding, tokenisation into words and numbers,
 * stop-word removal (positions kept, so phrases stay exact) and Snowball English stemming.
 *
 * @remarks
 * Identifiers survive: a token with a digit or an underscore (`snake_case`, `x86`, `3.14`, `1.2.3`) is
 * never stemmed nor dropped as a stop word. Offsets refer to the original (unnormalised) text.
 *
 * @param options - see {@link AnalyzerOptions}.
 * @returns an {@link Analyzer}.
 * @throws RagError `RAG_INVALID_ARGUMENT` when options are invalid.
 * @example
 * ```ts
 * import { createAnalyzer } from '@dataplane/rag';
 *
 * const tokens = createAnalyzer({ name: 'english' }).analyze('The flows over wings');
 * // [{ term: 'flow', position: 1, ... }, { term: 'wing', position: 3, ... }]
 * ```
 * @since 0.1.0
 */
export function createAnalyzer(options: AnalyzerOptions = {}): Analyzer {
  const name = options.name ?? 'custom';
  const stem = options.stem ?? true;
  const stop = options.stopWords ?? ENGLISH_STOP_WORDS;
  const keyword = options.keyword ?? false;
  const minLength = options.minLength ?? 1;
  if (!Number.isInteger(minLength) || minLength < 1) {
    throw new RagError('RAG_INVALID_ARGUMENT', `minLength must be a positive integer, got ${String(minLength)}`);
  }
  const cache = new Map<string, string>();
  const stemWord = (w: string): string => {
    let s = cache.get(w);
    if (s === undefined) {
      s = porter(w);
      if (cache.size < 100_000) cache.set(w, s);
    }
    return s;
  };
  return {
    name,
    analyze(text: string): Token[] {
      if (typeof text !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', 'text must be a string');
      if (keyword) {
        const term = text.normalize('NFKC').toLowerCase().trim();
        return term === '' ? [] : [{ term, position: 0, start: 0, end: text.length }];
      }
      const out: Token[] = [];
      let position = 0;
      TOKEN_RE.lastIndex = 0;
      for (let m = TOKEN_RE.exec(text); m !== null; m = TOKEN_RE.exec(text)) {
        const raw = m[0];
        const folded = raw.normalize('NFKC').toLowerCase();
        const pos = position++;
        const ident = HAS_DIGIT_OR_UNDERSCORE.test(folded);
        if (!ident) {
          if (stop.has(folded) || folded.length < minLength) continue;
        }
        const term = ident || !stem ? folded : stemWord(folded);
        out.push({ term, position: pos, start: m.index, end: m.index + raw.length });
      }
      return out;
    },
  };
}

const BUILTIN: Record<string, () => Analyzer> = {
  english: () => createAnalyzer({ name: 'english' }),
  standard: () => createAnalyzer({ name: 'standard', stem: false, stopWords: new Set() }),
  keyword: () => createAnalyzer({ name: 'keyword', keyword: true }),
};

/**
 * Returns a built-in analyzer by name: `'english'` (stop words + Snowball stemming), `'standard'` (folding
 * only) or `'keyword'` (whole text as one token).
 *
 * @param name - the analyzer name.
 * @returns the analyzer.
 * @throws RagError `RAG_INVALID_ARGUMENT` for an unknown name.
 * @example
 * ```ts
 * import { getAnalyzer } from '@dataplane/rag';
 *
 * getAnalyzer('standard').analyze('Hello World').map((t) => t.term); // ['hello', 'world']
 * ```
 * @since 0.1.0
 */
export function getAnalyzer(name: string): Analyzer {
  const make = BUILTIN[name];
  if (make === undefined) {
    throw new RagError('RAG_INVALID_ARGUMENT', `unknown analyzer "${name}" (use english, standard, keyword or pass an Analyzer)`);
  }
  return make();
}
