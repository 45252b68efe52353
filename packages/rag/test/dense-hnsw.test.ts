import { describe, expect, it } from 'vitest';
import { HnswIndex, RagError } from '@dataplane/rag';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Clustered vectors, like real embeddings. */
function clustered(n: number, d: number, seed: number): Float32Array[] {
  const r = rng(seed);
  const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: d }, () => r() * 2 - 1));
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)] as Float32Array;
    return Float32Array.from(c, (x) => x + (r() * 2 - 1) * 0.5);
  });
}

function exactTop(vs: Float32Array[], q: Float32Array, k: number, ok: (i: number) => boolean = () => true): number[] {
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const qn = norm(q);
  return vs
    .map((v, i) => ({ i, s: v.reduce((s, x, j) => s + x * (q[j] as number), 0) / (norm(v) * qn) }))
    .filter((x) => ok(x.i))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map((x) => x.i);
}

describe('HNSW', () => {
  const d = 32;
  const vs = clustered(3000, d, 7);
  const queries = clustered(50, d, 99);
  const index = new HnswIndex({ dimensions: d, M: 12, efConstruction: 100, exactBelow: 0 });
  for (const v of vs) index.add(v);

  it('reaches high recall@10 against exact search', () => {
    let hit = 0;
    for (const q of queries) {
      const truth = new Set(exactTop(vs, q, 10));
      for (const h of index.search(q, 10, { ef: 100 })) if (truth.has(h.node)) hit++;
    }
    expect(hit / (queries.length * 10)).toBeGreaterThan(0.95);
    expect(index.layers).toBeGreaterThan(1);
  });

  it('never returns deleted nodes and still finds the rest', () => {
    const idx = new HnswIndex({ dimensions: d, M: 8, exactBelow: 0, seed: 3 });
    for (const v of vs.slice(0, 800)) idx.add(v);
    for (let i = 0; i < 800; i += 2) idx.delete(i);
    expect(idx.size).toBe(400);
    let hit = 0;
    for (const q of queries.slice(0, 20)) {
      const res = idx.search(q, 10, { ef: 80 });
      expect(res.every((h) => h.node % 2 === 1)).toBe(true);
      const truth = new Set(exactTop(vs.slice(0, 800), q, 10, (i) => i % 2 === 1));
      for (const h of res) if (truth.has(h.node)) hit++;
    }
    expect(hit / 200).toBeGreaterThan(0.9);
  });

  it('filtered search returns only accepted nodes, k of them even when the filter is selective', () => {
    for (const q of queries.slice(0, 10)) {
      const res = index.search(q, 10, { accept: (n) => n % 97 === 0 });
      expect(res).toHaveLength(10);
      expect(res.every((h) => h.node % 97 === 0)).toBe(true);
      expect(res.map((h) => h.node)).toEqual(exactTop(vs, q, 10, (i) => i % 97 === 0));
    }
  });

  it('exact search for small sets equals brute force, scores are cosine', () => {
    const small = new HnswIndex({ dimensions: d });
    for (const v of vs.slice(0, 100)) small.add(v);
    const q = queries[0] as Float32Array;
    const res = small.search(q, 5);
    expect(res.map((h) => h.node)).toEqual(exactTop(vs.slice(0, 100), q, 5));
    expect(small.search(vs[3] as Float32Array, 1)[0]?.score).toBeCloseTo(1, 5);
  });

  it('the JavaScript path (dimensions not a multiple of 4) and the SIMD path agree with brute force', () => {
    for (const dim of [30, 32]) {
      const data = clustered(600, dim, 11);
      const idx = new HnswIndex({ dimensions: dim, M: 8, exactBelow: 0 });
      for (const v of data) idx.add(v);
      let hit = 0;
      for (const q of clustered(20, dim, 12)) {
        const truth = new Set(exactTop(data, q, 10));
        const res = idx.search(q, 10, { ef: 200 });
        for (const h of res) if (truth.has(h.node)) hit++;
        const exact = idx.search(q, 10, { exact: true });
        expect(exact.map((h) => h.node)).toEqual(exactTop(data, q, 10));
      }
      expect(hit / 200).toBeGreaterThan(0.95);
    }
  });

  it('rejects bad vectors and parameters', () => {
    const idx = new HnswIndex({ dimensions: 3 });
    expect(() => idx.add(new Float32Array(2))).toThrow(RagError);
    expect(() => idx.add(new Float32Array(3))).toThrow(/non-zero/);
    expect(() => idx.add(new Float32Array([NaN, 1, 1]))).toThrow(RagError);
    expect(() => idx.search(new Float32Array(2), 1)).toThrow(RagError);
    expect(() => new HnswIndex({ dimensions: 0 })).toThrow(RagError);
    expect(() => new HnswIndex({ dimensions: 3, M: 1 })).toThrow(RagError);
    expect(idx.search(new Float32Array([1, 0, 0]), 3)).toEqual([]);
  });
});
