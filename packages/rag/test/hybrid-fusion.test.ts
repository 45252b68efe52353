import { describe, expect, it } from 'vitest';
import { fuse, RagError } from '@dataplane/rag';

describe('fusion', () => {
  const bm25 = { ids: ['a', 'b', 'c'], scores: [9, 5, 1] };
  const dense = { ids: ['c', 'a'], scores: [0.9, 0.5] };

  it('weighted RRF (hand-computed)', () => {
    const out = fuse(bm25, dense, { kind: 'rrf', k: 10, weights: { bm25: 1, dense: 2 } });
    const byId = Object.fromEntries(out.map((c) => [c.id, c.fused]));
    expect(byId.a).toBeCloseTo(1 / 11 + 2 / 12, 12);
    expect(byId.b).toBeCloseTo(1 / 12, 12);
    expect(byId.c).toBeCloseTo(1 / 13 + 2 / 11, 12);
    expect(out.map((c) => c.id)).toEqual(['c', 'a', 'b']);
    expect(out[0]).toMatchObject({ bm25: 1, bm25Rank: 3, dense: 0.9, denseRank: 1 });
  });

  it('convex combination of min-max normalised scores (hand-computed)', () => {
    const out = fuse(bm25, dense, { kind: 'convex', alpha: 0.25 });
    const byId = Object.fromEntries(out.map((c) => [c.id, c.fused]));
    expect(byId.a).toBeCloseTo(0.75 * 1 + 0.25 * 0, 12);
    expect(byId.b).toBeCloseTo(0.75 * 0.5, 12);
    expect(byId.c).toBeCloseTo(0.75 * 0 + 0.25 * 1, 12);
  });

  it('alpha 0 and 1 reproduce each signal; bad parameters are rejected', () => {
    expect(fuse(bm25, dense, { kind: 'convex', alpha: 0 }).map((c) => c.id)).toEqual(['a', 'b', 'c']);
    expect(fuse(bm25, dense, { kind: 'convex', alpha: 1 }).slice(0, 2).map((c) => c.id)).toEqual(['c', 'a']);
    expect(() => fuse(bm25, dense, { kind: 'convex', alpha: 2 })).toThrow(RagError);
    expect(() => fuse(bm25, dense, { kind: 'rrf', k: -1 })).toThrow(RagError);
  });
});
