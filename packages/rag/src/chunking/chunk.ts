import { RagError } from '../errors.js';
import { htmlToText } from './html-text.js';
import type { ChunkOptions, Passage } from './types.js';

interface Section {
  headingPath: string[];
  /** Word spans [start, end) in the working text. */
  words: { start: number; end: number; sentenceEnd: boolean }[];
}

const WORD = /\S+/g;

function wordsOf(text: string, from: number, to: number, into: Section['words']): void {
  WORD.lastIndex = from;
  for (let m = WORD.exec(text); m !== null && m.index < to; m = WORD.exec(text)) {
    const end = Math.min(m.index + m[0].length, to);
    into.push({ start: m.index, end, sentenceEnd: /[.!?]["')\]]*$/.test(text.slice(m.index, end)) });
  }
}

function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let current: Section = { headingPath: [], words: [] };
  let inFence = false;
  let pos = 0;
  while (pos <= text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    const line = text.slice(pos, lineEnd);
    if (/^\s{0,3}(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h !== null) {
      if (current.words.length > 0) sections.push(current);
      const level = (h[1] as string).length;
      while (path.length > 0 && (path[path.length - 1] as { level: number }).level >= level) path.pop();
      path.push({ level, title: h[2] as string });
      current = { headingPath: path.map((p) => p.title), words: [] };
    } else wordsOf(text, pos, lineEnd, current.words);
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (current.words.length > 0) sections.push(current);
  return sections;
}

function htmlSections(text: string, headings: { level: number; title: string; at: number; endAt: number }[]): Section[] {
  const sections: Section[] = [];
  const path: { level: number; title: string }[] = [];
  let current: Section = { headingPath: [], words: [] };
  let pos = 0;
  for (const h of headings) {
    wordsOf(text, pos, h.at, current.words);
    if (current.words.length > 0) sections.push(current);
    while (path.length > 0 && (path[path.length - 1] as { level: number }).level >= h.level) path.pop();
    path.push({ level: h.level, title: h.title });
    current = { headingPath: path.map((p) => p.title), words: [] };
    pos = h.endAt;
  }
  wordsOf(text, pos, text.length, current.words);
  if (current.words.length > 0) sections.push(current);
  return sections;
}

/**
 * Splits a document (plain text, Markdown or HTML) into passages of at most `maxTokens` words with
 * `overlapTokens` words of overlap, never crossing a heading; each passage keeps its heading path and its
 * character range in the source. Windows end at a sentence end when one falls in their second half.
 *
 * @param source - the document text.
 * @param options - format, sizes and the document id.
 * @returns the passages in document order.
 * @throws RagError `RAG_INVALID_ARGUMENT` when sizes are invalid (maxTokens < 1, overlap < 0 or >= maxTokens).
 * @example
 * ```ts
 * import { chunkDocument } from '@dataplane/rag';
 *
 * const passages = chunkDocument('# Wings\n\nLift grows with angle of attack.', { format: 'markdown', docId: 'a' });
 * passages[0]?.headingPath; // ['Wings']
 * ```
 * @since 0.1.0
 */
export function chunkDocument(source: string, options: ChunkOptions = {}): Passage[] {
  if (typeof source !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', 'source must be a string');
  const maxTokens = options.maxTokens ?? 200;
  const overlap = options.overlapTokens ?? Math.min(40, Math.floor(maxTokens / 5));
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RagError('RAG_INVALID_ARGUMENT', `maxTokens must be an integer >= 1, got ${maxTokens}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= maxTokens) {
    throw new RagError('RAG_INVALID_ARGUMENT', `overlapTokens must be an integer in [0, maxTokens), got ${overlap}`);
  }
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'markdown' && format !== 'html') throw new RagError('RAG_INVALID_ARGUMENT', `unknown format ${String(format)}`);
  const docId = options.docId ?? 'doc';
  let text = source;
  let map: number[] | undefined;
  let sections: Section[];
  if (format === 'html') {
    const h = htmlToText(source);
    text = h.text;
    map = h.map;
    sections = htmlSections(text, h.headings);
  } else if (format === 'markdown') sections = markdownSections(text);
  else {
    const s: Section = { headingPath: [], words: [] };
    wordsOf(text, 0, text.length, s.words);
    sections = s.words.length > 0 ? [s] : [];
  }
  const out: Passage[] = [];
  for (const sec of sections) {
    const w = sec.words;
    let i = 0;
    while (i < w.length) {
      let end = Math.min(i + maxTokens, w.length);
      if (end < w.length) {
        for (let j = end; j > i + Math.ceil(maxTokens / 2); j--) {
          if ((w[j - 1] as { sentenceEnd: boolean }).sentenceEnd) {
            end = j;
            break;
          }
        }
      }
      const ts = (w[i] as { start: number }).start;
      const te = (w[end - 1] as { end: number }).end;
      const start = map === undefined ? ts : (map[ts] as number);
      const stop = map === undefined ? te : (map[te - 1] as number) + 1;
      out.push({ id: `${docId}#${out.length}`, docId, index: out.length, text: text.slice(ts, te), start, end: stop, headingPath: [...sec.headingPath], tokens: end - i });
      if (end >= w.length) break;
      i = Math.max(end - overlap, i + 1);
    }
  }
  return out;
}
