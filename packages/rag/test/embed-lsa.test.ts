import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blendEmbedders, createAnalyzer, createLsaEmbedder, loadLsaEmbedder, type Embedder } from '@dataplane/rag';
import { symmetricEigen, truncatedSvd, type CsrMatrix } from '../src/embed/sparse-svd.js';

const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);
const numRuns = Number(process.env.FC_NUM_RUNS ?? 30);

function csr(dense: number[][]): CsrMatrix {
  const rows = dense.length;
  const cols = dense[0]?.length ?? 0;
  const indptr = new Uint32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  dense.forEach((row, i) => {
    row.forEach((v, j) => {
      if (v !== 0) {
        indices.push(j);
        values.push(v);
      }
    });
    indptr[i + 1] = indices.length;
  });
  return { rows, cols, indptr, indices: Uint32Array.from(indices), values: Float64Array.from(values) };
}

/** Reference: the eigenvalues of A^T A (dense), descending = squared singular values. */
function referenceSingularValues(dense: number[][]): number[] {
  const cols = dense[0]?.length ?? 0;
  const ata = new Float64Array(cols * cols);
  for (const row of dense) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) ata[i * cols + j] = (ata[i * cols + j] as number) + (row[i] as number) * (row[j] as number);
  const { values } = symmetricEigen(ata, cols);
  return Array.from(values, (v) => Math.sqrt(Math.max(v, 0))).sort((a, b) => b - a);
}

describe('truncated SVD', () => {
  it('symmetricEigen diagonalises: M v = lambda v', () => {
    const m = Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { values, vectors } = symmetricEigen(m, 3);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 3; i++) {
        let mv = 0;
        for (let j = 0; j < 3; j++) mv += (m[i * 3 + j] as number) * (vectors[j * 3 + c] as number);
        expect(mv).toBeCloseTo((values[c] as number) * (vectors[i * 3 + c] as number), 9);
      }
    }
    expect(Array.from(values).reduce((s, v) => s + v, 0)).toBeCloseTo(12, 9); // trace
  });

  it('matches the dense reference on random sparse matrices (values, orthonormal vectors, A v = s u)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 108, maxLength: 108 }),
        fc.integer({ min: 1, max: 1000 }),
        (rows, cols, k, cells, seed) => {
          const dense = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => ((cells[i * 9 + j] as number) % 2 === 0 ? 0 : (cells[i * 9 + j] as number))));
          const ref = referenceSingularValues(dense).filter((s) => s > 1e-6 * ((referenceSingularValues(dense)[0] as number) || 1));
          // Enough oversampling to cover the whole (small) space: the result must be exact.
          const svd = truncatedSvd(csr(dense), { k, oversample: 10, powerIterations: 2, seed });
          expect(svd.k).toBe(Math.min(k, ref.length));
          for (let c = 0; c < svd.k; c++) expect(svd.values[c]).toBeCloseTo(ref[c] as number, 6);
          for (let c = 0; c < svd.k; c++) {
            for (let d = 0; d < svd.k; d++) {
              let dot = 0;
              for (let r = 0; r < cols; r++) dot += (svd.v[r * svd.k + c] as number) * (svd.v[r * svd.k + d] as number);
              expect(dot).toBeCloseTo(c === d ? 1 : 0, 6);
            }
            // ||A v_c|| = s_c
            let norm = 0;
            for (const row of dense) {
              let x = 0;
              for (let r = 0; r < cols; r++) x += (row[r] as number) * (svd.v[r * svd.k + c] as number);
              norm += x * x;
            }
            expect(Math.sqrt(norm)).toBeCloseTo(svd.values[c] as number, 6);
          }
        },
      ),
      { numRuns },
    );
  });

  it('is deterministic for a seed and rejects a bad k', () => {
    const m = csr([
      [1, 0, 2, 0],
      [0, 3, 0, 1],
      [1, 1, 0, 0],
    ]);
    expect(truncatedSvd(m, { k: 2, seed: 7 })).toEqual(truncatedSvd(m, { k: 2, seed: 7 }));
    expect(() => truncatedSvd(m, { k: 0 })).toThrow(/positive integer/);
  });
});

const CORPUS = [
  'supersonic flow over a swept wing at high mach number',
  'the lift of a swept wing in supersonic flow',
  'shock waves in supersonic flow around a wing',
  'heat transfer in a laminar boundary layer',
  'laminar boundary layer heat transfer on a flat plate',
  'skin friction and heat transfer in the boundary layer',
  'buckling of thin cylindrical shells under pressure',
  'cylindrical shells buckling under axial compression',
];

describe('LSA embedder', () => {
  it('embeds related texts close and unrelated texts apart, deterministically', async () => {
    const e = await createLsaEmbedder({ corpus: CORPUS, dimensions: 3 });
    expect(e.dimensions).toBe(3);
    expect(e.fittedDocs).toBe(CORPUS.length);
    expect(e.id).toMatch(/^lsa-3d-english-[0-9a-f]{8}$/);
    const [wing, shock, plate, shell, none] = await e.embed(['mach wing', 'shock waves', 'flat plate friction', 'shells compression', 'zebra']);
    // 'shock waves' never co-occurs with 'mach' in one text, but both live in the supersonic topic.
    expect(cos(wing as Float32Array, shock as Float32Array)).toBeGreaterThan(0.8);
    expect(cos(wing as Float32Array, plate as Float32Array)).toBeLessThan(0.3);
    expect(cos(plate as Float32Array, shell as Float32Array)).toBeLessThan(0.3);
    expect(Array.from(none as Float32Array)).toEqual([0, 0, 0]);
    const again = await createLsaEmbedder({ corpus: CORPUS, dimensions: 3 });
    expect(again.id).toBe(e.id);
    expect(await again.embed(['mach wing'])).toEqual([wing]);
  });

  it('validates its input and honours abort signals', async () => {
    await expect(createLsaEmbedder({ corpus: 'x' as unknown as string[] })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(createLsaEmbedder({ corpus: CORPUS, dimensions: 0 })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(createLsaEmbedder({ corpus: ['the of and'] })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(createLsaEmbedder({ corpus: CORPUS, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    const e = await createLsaEmbedder({ corpus: CORPUS, dimensions: 2 });
    await expect(e.embed(['x'], { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    await expect(e.embed([1 as unknown as string])).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
  });

  it('adds consecutive term pairs seen in two documents or more as features, unless bigrams is 0', async () => {
    const plain = await createLsaEmbedder({ corpus: CORPUS, dimensions: 3, bigrams: 0 });
    const pairs = await createLsaEmbedder({ corpus: CORPUS, dimensions: 3 });
    // Pairs in two documents or more: supersonic flow, swept wing, heat transfer, laminar boundary, boundary
    // layer, cylindrical shells (every other pair occurs once).
    expect(pairs.terms - plain.terms).toBe(6);
    expect(pairs.id).not.toBe(plain.id);
    await expect(createLsaEmbedder({ corpus: CORPUS, bigrams: -1 })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
  });

  it('saves and reopens a model: same id, same vectors; corrupt bytes are typed errors', async () => {
    const e = await createLsaEmbedder({ corpus: CORPUS, dimensions: 3 });
    const bytes = e.toBytes();
    const back = loadLsaEmbedder(bytes);
    expect(back.id).toBe(e.id);
    expect(back.terms).toBe(e.terms);
    expect(back.fittedDocs).toBe(e.fittedDocs);
    expect(Array.from(back.singularValues)).toEqual(Array.from(e.singularValues));
    const texts = ['supersonic flow over a wing', 'boundary layer heat transfer', 'zebra'];
    expect(await back.embed(texts)).toEqual(await e.embed(texts));
    expect(() => loadLsaEmbedder(bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: 'RAG_CORRUPT_INDEX' }));
    expect(() => loadLsaEmbedder(new Uint8Array(40))).toThrow(expect.objectContaining({ code: 'RAG_CORRUPT_INDEX' }));
    const custom = await createLsaEmbedder({ corpus: CORPUS, dimensions: 2, analyzer: createAnalyzer({ name: 'mine', stem: false }) });
    expect(() => loadLsaEmbedder(custom.toBytes())).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(loadLsaEmbedder(custom.toBytes(), { analyzer: createAnalyzer({ name: 'mine', stem: false }) }).id).toBe(custom.id);
  });

  it('fits on an evenly spaced sample when the corpus exceeds maxDocs', async () => {
    const e = await createLsaEmbedder({ corpus: CORPUS, dimensions: 2, maxDocs: 4 });
    expect(e.fittedDocs).toBe(4);
    expect(e.dimensions).toBeLessThanOrEqual(2);
  });
});

describe('blendEmbedders', () => {
  const fixed = (id: string, table: Record<string, number[]>): Embedder => ({
    id,
    dimensions: 2,
    embed: async (texts) => texts.map((t) => Float32Array.from(table[t] ?? [0, 0])),
  });

  it('gives the weighted sum of the parts cosines and renormalises around zero parts', async () => {
    const a = fixed('a', { x: [1, 0], y: [0, 1] });
    const b = fixed('b', { x: [1, 0], y: [1, 0] });
    const blend = blendEmbedders([
      { embedder: a, weight: 3 },
      { embedder: b, weight: 1 },
    ]);
    expect(blend.dimensions).toBe(4);
    expect(blend.id).toBe('blend(a*0.75+b*0.25)');
    const [x, y] = await blend.embed(['x', 'y']);
    expect(cos(x as Float32Array, y as Float32Array)).toBeCloseTo(0.75 * 0 + 0.25 * 1, 6);
    const only = blendEmbedders([
      { embedder: a, weight: 1 },
      { embedder: fixed('c', {}), weight: 1 },
    ]);
    const [v] = await only.embed(['x']);
    expect(Math.hypot(...Array.from(v as Float32Array))).toBeCloseTo(1, 6);
    expect(() => blendEmbedders([])).toThrow(/at least one/);
    expect(() => blendEmbedders([{ embedder: a, weight: 0 }])).toThrow(/positive/);
  });
});
