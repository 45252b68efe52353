import { RagError } from '../errors.js';

const MAGIC = 'DPGLOVE1';

/** A decoded word-vector table: vocabulary in frequency order and int8 vectors with a scale per word. */
export interface WordVectors {
  words: string[];
  dimensions: number;
  scales: Float32Array;
  codes: Int8Array;
}

/**
 * Encodes word vectors (frequency-ordered) to the compact binary format: a header, the vocabulary as
 * UTF-8 lines, one float32 scale per word and int8 codes (symmetric per-vector quantisation).
 *
 * @internal
 */
export function encodeWordVectors(words: readonly string[], vectors: readonly ArrayLike<number>[], dimensions: number): Uint8Array {
  const vocab = new TextEncoder().encode(words.join('\n'));
  const pad = (4 - ((20 + vocab.length) % 4)) % 4;
  const n = words.length;
  const out = new Uint8Array(20 + vocab.length + pad + n * 4 + n * dimensions);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, n, true);
  view.setUint32(12, dimensions, true);
  view.setUint32(16, vocab.length, true);
  out.set(vocab, 20);
  const scalesOff = 20 + vocab.length + pad;
  const scales = new Float32Array(out.buffer, scalesOff, n);
  const codes = new Int8Array(out.buffer, scalesOff + n * 4, n * dimensions);
  for (let w = 0; w < n; w++) {
    const v = vectors[w] as ArrayLike<number>;
    let max = 0;
    for (let i = 0; i < dimensions; i++) max = Math.max(max, Math.abs(v[i] ?? 0));
    const scale = max === 0 ? 1 : max / 127;
    scales[w] = scale;
    for (let i = 0; i < dimensions; i++) codes[w * dimensions + i] = Math.round((v[i] ?? 0) / scale);
  }
  return out;
}

/**
 * Decodes the binary format of {@link encodeWordVectors}.
 *
 * @throws RagError `RAG_CORRUPT_INDEX` when the bytes are not a model file.
 * @internal
 */
export function decodeWordVectors(bytes: Uint8Array): WordVectors {
  if (bytes.length < 20 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new RagError('RAG_CORRUPT_INDEX', 'not a word-vector model file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const dimensions = view.getUint32(12, true);
  const vocabLen = view.getUint32(16, true);
  const pad = (4 - ((20 + vocabLen) % 4)) % 4;
  const scalesOff = 20 + vocabLen + pad;
  if (bytes.length !== scalesOff + n * 4 + n * dimensions) throw new RagError('RAG_CORRUPT_INDEX', 'truncated word-vector model file');
  const words = new TextDecoder().decode(bytes.subarray(20, 20 + vocabLen)).split('\n');
  const copy = bytes.slice(scalesOff);
  return {
    words,
    dimensions,
    scales: new Float32Array(copy.buffer, 0, n),
    codes: new Int8Array(copy.buffer, n * 4, n * dimensions),
  };
}
