import { describe, expect, it } from 'vitest';
import { createRetriever, densePrf, expandQueryRm3, RagError, type Embedder } from '@dataplane/rag';

describe('RM3 expansion', () => {
  it('interpolates the query with the relevance model of the feedback docs (hand-computed)', () => {
    const q = expandQueryRm3(
      [
        { term: 'wing', weight: 1 },
        { term: 'lift', weight: 1 },
      ],
      [
        { terms: new Map([['wing', 3], ['flap', 1]]), score: Math.log(3) },
        { terms: new Map([['drag', 2]]), score: 0 },
      ],
      { terms: 2, originalWeight: 0.5 },
    );
    // P(d|q) = softmax(log 3, 0) = 3/4, 1/4; P(t|R): wing 3/4 * 3/4 = 9/16, flap 3/16, drag 1/4 * 1 = 4/16
    // top 2 terms: wing 9/16, drag 4/16 -> renormalised 9/13, 4/13
    const w = Object.fromEntries(q.map((t) => [t.term, t.weight]));
    expect(w.wing).toBeCloseTo(0.5 * 0.5 + 0.5 * (9 / 13), 12);
    expect(w.lift).toBeCloseTo(0.25, 12);
    expect(w.drag).toBeCloseTo(0.5 * (4 / 13), 12);
    expect(w.flap).toBeUndefined();
    expect(q.reduce((s, t) => s + t.weight, 0)).toBeCloseTo(1, 12);
  });

  it('originalWeight 1 or no feedback docs returns the normalised query; bad options are rejected', () => {
    expect(expandQueryRm3([{ term: 'a', weight: 2 }], [{ terms: new Map([['b', 1]]), score: 1 }], { originalWeight: 1 })).toEqual([{ term: 'a', weight: 1 }]);
    expect(expandQueryRm3([{ term: 'a', weight: 2 }], [])).toEqual([{ term: 'a', weight: 0.6 }]);
    expect(() => expandQueryRm3([], [], { originalWeight: 2 })).toThrow(RagError);
  });
});

describe('dense PRF', () => {
  it('moves the normalised query toward the mean of the normalised feedback vectors (hand-computed)', () => {
    const v = densePrf(new Float32Array([3, 0]), [new Float32Array([0, 2]), new Float32Array([4, 0])], 2);
    // q/|q| = (1, 0); mean of (0, 1) and (1, 0) = (0.5, 0.5); q' = (1 + 1, 0 + 1)
    expect([...v]).toEqual([2, 1]);
    expect([...densePrf(new Float32Array([0, 2]), [new Float32Array([1, 0])], 0)]).toEqual([0, 1]);
    expect(() => densePrf(new Float32Array(2), [new Float32Array(3)], 1)).toThrow(RagError);
  });
});

/** Two-dimensional "embedder": (aero words, heat words); plumbing only, not semantic. */
const axes: Embedder = {
  id: 'axes-2',
  dimensions: 2,
  embed: (texts) =>
    Promise.resolve(texts.map((t) => Float32Array.from([(t.match(/wing|lift|flap/g) ?? []).length + 0.01, (t.match(/heat|thermal/g) ?? []).length + 0.01]))),
};
const docs = [
  { id: 'a', fields: { text: 'wing lift and flap deflection' } },
  { id: 'b', fields: { text: 'flap deflection at low speed' } },
  { id: 'c', fields: { text: 'thermal heat load' } },
  { id: 'd', fields: { text: 'heat of the wing root' } },
  { id: 'e', fields: { text: 'lift lift lift' } },
];

describe('retriever feedback and exact hybrid signals', () => {
  it('RM3 in bm25 mode finds a doc that shares only expansion terms with the query', async () => {
    await using r = createRetriever({ fields: { text: {} } });
    await r.add(docs);
    const plain = await r.search('wing lift', { mode: 'bm25', k: 10 });
    expect(plain.map((h) => h.id)).not.toContain('b');
    const rm3 = await r.search('wing lift', { mode: 'bm25', k: 10, feedback: { rm3: { docs: 1, terms: 10, originalWeight: 0.5 } } });
    expect(rm3.map((h) => h.id)).toContain('b');
    await expect(r.search('wing', { mode: 'bm25', feedback: { rm3: { docs: 0 } } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
  });

  it('hybrid candidates carry both signals, computed exactly for the list that missed them', async () => {
    await using r = createRetriever({ fields: { text: {} }, embedder: axes });
    await r.add(docs);
    const fusion = { kind: 'convex', alpha: 0.3, normalization: 'zscore', feedback: false } as const;
    const hits = await r.search('wing root', { k: 5, candidates: 1, fusion });
    const bm25 = await r.search('wing root', { mode: 'bm25', k: 5 });
    const dense = await r.search('wing root', { mode: 'dense', k: 5 });
    expect(bm25[0]?.id).not.toBe(dense[0]?.id);
    for (const h of hits) {
      expect(h.signals.bm25).toBeCloseTo(bm25.find((x) => x.id === h.id)?.score ?? 0, 6);
      expect(h.signals.dense).toBeCloseTo(dense.find((x) => x.id === h.id)?.score as number, 6);
    }
    // one candidate per list: the BM25 top and the dense top, each with the other's exact score
    expect(hits.map((h) => h.id).sort()).toEqual([bm25[0]?.id, dense[0]?.id].sort());
    const other = hits.find((h) => h.id === dense[0]?.id);
    expect(other?.signals.bm25Rank).toBeUndefined();
  });

  it('dense PRF pulls the query vector toward BM25\'s top documents', async () => {
    await using r = createRetriever({ fields: { text: {} }, embedder: axes });
    await r.add(docs);
    // 'deflection' has no topic word, so its vector is the diagonal, nearest to d (heat + wing); BM25's top
    // documents for it (a, b) are on the aero axis and pull the query there
    const plain = await r.search('deflection', { mode: 'dense', k: 5 });
    expect(plain[0]?.id).toBe('d');
    const prf = await r.search('deflection', { mode: 'dense', k: 5, feedback: { dense: { docs: 1, beta: 4 } } });
    expect(['a', 'b', 'e']).toContain(prf[0]?.id);
  });
});
