/** Source format of a document given to {@link chunkDocument}. */
export type ChunkFormat = 'text' | 'markdown' | 'html';

/**
 * A self-contained passage of a document.
 *
 * @since 0.1.0
 */
export interface Passage {
  /** `${docId}#${index}`. */
  id: string;
  /** The id of the source document. */
  docId: string;
  /** 0-based position of the passage in its document. */
  index: number;
  /** The passage text (for `text`/`markdown`, exactly `source.slice(start, end)`). */
  text: string;
  /** Start offset (UTF-16 code units) in the source document. */
  start: number;
  /** End offset (exclusive) in the source document. */
  end: number;
  /** The headings enclosing the passage, outermost first. */
  headingPath: string[];
  /** Number of tokens (whitespace-separated words) in the passage. */
  tokens: number;
}

/** Options of {@link chunkDocument}. */
export interface ChunkOptions {
  /** Source format. @defaultValue `'text'` */
  format?: ChunkFormat | undefined;
  /** Maximum tokens (words) per passage. @defaultValue 200 */
  maxTokens?: number | undefined;
  /** Tokens repeated from the end of one passage at the start of the next (within a section). @defaultValue 40 */
  overlapTokens?: number | undefined;
  /** Document id used in passage ids. @defaultValue `'doc'` */
  docId?: string | undefined;
}
