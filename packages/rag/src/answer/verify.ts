import { getAnalyzer } from '../analysis/analyzer.js';
import type { Analyzer, Embedder } from '../retrieval-types.js';
import { splitSentences } from '../snippets/sentences.js';
import type { AnswerSource } from './types.js';

/** One verified answer sentence. */
export interface AnswerSentence {
  /** The sentence without its citation markers. */
  text: string;
  /** Cited source numbers (1-based, as in `sources`). */
  citations: number[];
  /** Whether the cited sources support the sentence. */
  supported: boolean;
  /** Fraction of the sentence's content terms found in its cited sources (0..1). */
  lexicalSupport: number;
  /** Best cosine between the sentence and a sentence of its cited sources (undefined without an embedder). */
  embeddingSupport?: number | undefined;
}

/** Options of {@link verifyCitations}. */
export interface VerifyOptions {
  /** Analyzer for lexical support. @defaultValue `getAnalyzer('english')` */
  analyzer?: Analyzer | undefined;
  /** Embedder for embedding support. */
  embedder?: Embedder | undefined;
  /** Minimum lexical support alone to count as supported. @defaultValue 0.6 */
  minLexical?: number | undefined;
  /** Minimum cosine that (with lexical support >= 0.3) counts as supported. @defaultValue 0.85 */
  minCosine?: number | undefined;
  signal?: AbortSignal | undefined;
}

const CITE = /\s*\[(\d+(?:\s*,\s*\d+)*)\]/g;

/**
 * Checks each sentence of an answer against the sources it cites: lexical support (share of its content
 * terms found in the cited passages) and, with an embedder, embedding support (best cosine with a cited
 * sentence). A sentence without citations, or citing unknown sources, is unsupported.
 *
 * @param answer - the generated answer with `[n]` markers.
 * @param sources - the numbered sources given to the generator.
 * @param options - analyzer, embedder and thresholds.
 * @returns the sentences with citations and support.
 * @throws RagError `RAG_ABORTED` when aborted while embedding.
 * @example
 * ```ts
 * import { verifyCitations } from '@dataplane/rag';
 *
 * const s = await verifyCitations('Wings produce lift. [1]', [{ n: 1, id: 'a#0', text: 'Wings produce lift.' }]);
 * s[0]?.supported; // true
 * ```
 * @since 0.1.0
 */
export async function verifyCitations(answer: string, sources: readonly AnswerSource[], options: VerifyOptions = {}): Promise<AnswerSentence[]> {
  const analyzer = options.analyzer ?? getAnalyzer('english');
  const minLex = options.minLexical ?? 0.6;
  const minCos = options.minCosine ?? 0.85;
  const byN = new Map(sources.map((s) => [s.n, s]));
  const srcTerms = new Map(sources.map((s) => [s.n, new Set(analyzer.analyze(s.text).map((t) => t.term))]));
  // Citations trail their sentence: attach markers that start a chunk to the previous sentence.
  const raw = splitSentences(answer);
  const sents: { text: string; citations: number[] }[] = [];
  for (const r of raw) {
    const leading = /^(\s*\[\d+(?:\s*,\s*\d+)*\])+/.exec(r.text);
    let body = r.text;
    if (leading !== null && sents.length > 0) {
      const prev = sents[sents.length - 1] as { citations: number[] };
      for (const m of leading[0].matchAll(CITE)) for (const n of (m[1] as string).split(',')) prev.citations.push(Number(n.trim()));
      body = r.text.slice(leading[0].length);
    }
    const citations: number[] = [];
    for (const m of body.matchAll(CITE)) for (const n of (m[1] as string).split(',')) citations.push(Number(n.trim()));
    const text = body.replace(CITE, '').replace(/\s+([.!?,;:])/g, '$1').trim();
    if (text !== '') sents.push({ text, citations });
  }
  const out: AnswerSentence[] = sents.map((s) => {
    const citations = [...new Set(s.citations)];
    const terms = [...new Set(analyzer.analyze(s.text).map((t) => t.term))];
    const valid = citations.length > 0 && citations.every((n) => byN.has(n));
    let found = 0;
    if (valid) for (const t of terms) if (citations.some((n) => srcTerms.get(n)?.has(t) === true)) found++;
    const lexicalSupport = terms.length === 0 ? 0 : found / terms.length;
    return { text: s.text, citations, supported: valid && lexicalSupport >= minLex, lexicalSupport };
  });
  if (options.embedder !== undefined) {
    const need = out.filter((s) => !s.supported && s.citations.length > 0 && s.citations.every((n) => byN.has(n)) && s.lexicalSupport >= 0.3);
    if (need.length > 0) {
      const citedSents = new Map<number, string[]>();
      for (const s of need) for (const n of s.citations) if (!citedSents.has(n)) citedSents.set(n, splitSentences((byN.get(n) as AnswerSource).text).map((x) => x.text));
      const flat = [...citedSents.values()].flat();
      const vecs = await options.embedder.embed([...need.map((s) => s.text), ...flat], { signal: options.signal });
      const sentVec = new Map<string, Float32Array>();
      flat.forEach((t, i) => sentVec.set(t, vecs[need.length + i] as Float32Array));
      need.forEach((s, i) => {
        const v = vecs[i] as Float32Array;
        let best = -1;
        for (const n of s.citations) for (const t of citedSents.get(n) ?? []) best = Math.max(best, cosine(v, sentVec.get(t) as Float32Array));
        s.embeddingSupport = best;
        if (best >= minCos) s.supported = true;
      });
    }
  }
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    d += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : d / Math.sqrt(na * nb);
}
