import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuse, RagError, type ScoreNormalization } from '@dataplane/rag';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const bm25 = { ids: ['a', 'b', 'c'], scores: [9, 5, 1] };
const dense = { ids: ['c', 'a'], scores: [0.9, 0.5] };
const byId = (out: { id: string; fused: number }[]): Record<string, number> => Object.fromEntries(out.map((c) => [c.id, c.fused]));

describe('convex fusion: normalisations and exact missing signals', () => {
  it('z-score with the missing cosine computed exactly (hand-computed)', () => {
    const out = fuse(bm25, dense, { kind: 'convex', alpha: 0.25, normalization: 'zscore' }, { dense: (id) => (id === 'b' ? 0.1 : undefined) });
    // bm25 9, 5, 1: mean 5, sd sqrt(32/3); dense 0.5, 0.1, 0.9: mean 0.5, sd sqrt(0.32/3)
    const sb = Math.sqrt(32 / 3);
    const sd = Math.sqrt(0.32 / 3);
    const f = byId(out);
    expect(f.a).toBeCloseTo(0.75 * (4 / sb) + 0.25 * 0, 12);
    expect(f.b).toBeCloseTo(0.75 * 0 + 0.25 * (-0.4 / sd), 12);
    expect(f.c).toBeCloseTo(0.75 * (-4 / sb) + 0.25 * (0.4 / sd), 12);
    expect(out.map((c) => c.id)).toEqual(['a', 'b', 'c']);
    // the completed score is reported, without a rank
    const b = out.find((c) => c.id === 'b');
    expect(b).toMatchObject({ dense: 0.1, bm25: 5, bm25Rank: 2 });
    expect(b?.denseRank).toBeUndefined();
  });

  it('z-score without a scorer gives a missing signal the lowest normalised value (hand-computed)', () => {
    const f = byId(fuse(bm25, dense, { kind: 'convex', alpha: 0.5, normalization: 'zscore' }));
    // dense 0.9, 0.5: mean 0.7, sd 0.2 -> c +1, a -1; b is missing -> -1
    const sb = Math.sqrt(32 / 3);
    expect(f.b).toBeCloseTo(0.5 * 0 + 0.5 * -1, 12);
    expect(f.a).toBeCloseTo(0.5 * (4 / sb) + 0.5 * -1, 12);
    expect(f.c).toBeCloseTo(0.5 * (-4 / sb) + 0.5 * 1, 12);
  });

  it('distribution-based score fusion clips mean +- 3 sd to [0, 1] (hand-computed)', () => {
    const f = byId(fuse(bm25, { ids: ['c', 'a', 'b'], scores: [0.9, 0.5, 0.1] }, { kind: 'convex', alpha: 0.5, normalization: 'dbsf' }));
    const sb = Math.sqrt(32 / 3);
    const sd = Math.sqrt(0.32 / 3);
    const nb = (s: number): number => (s - (5 - 3 * sb)) / (6 * sb);
    const nd = (s: number): number => (s - (0.5 - 3 * sd)) / (6 * sd);
    expect(f.a).toBeCloseTo(0.5 * nb(9) + 0.5 * nd(0.5), 12);
    expect(f.b).toBeCloseTo(0.5 * nb(5) + 0.5 * nd(0.1), 12);
    expect(f.c).toBeCloseTo(0.5 * nb(1) + 0.5 * nd(0.9), 12);
  });

  it('min-max with completion: the completed BM25 of a dense-only candidate enters the min-max range', () => {
    const f = byId(fuse({ ids: ['a'], scores: [4] }, { ids: ['b', 'a'], scores: [0.8, 0.4] }, { kind: 'convex', alpha: 0.5 }, { bm25: () => 2 }));
    // bm25 a 4, b 2 -> 1, 0; dense b 0.8, a 0.4 -> 1, 0
    expect(f).toEqual({ a: 0.5, b: 0.5 });
  });

  it('a constant signal does not change the order; bad parameters are rejected', () => {
    const out = fuse({ ids: ['x', 'y'], scores: [2, 2] }, { ids: ['y', 'x'], scores: [0.9, 0.1] }, { kind: 'convex', alpha: 0.5, normalization: 'zscore' });
    expect(out.map((c) => c.id)).toEqual(['y', 'x']);
    expect(() => fuse(bm25, dense, { kind: 'convex', alpha: 0.5, normalization: 'l2' as ScoreNormalization })).toThrow(RagError);
  });
});

const NORMS: ScoreNormalization[] = ['minmax', 'zscore', 'dbsf'];
/** Candidates with both signals: id -> [bm25, dense]. */
const cands = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 30, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true })), {
  minLength: 1,
  maxLength: 12,
  selector: (t) => t[0],
});
const lists = (cs: [number, number, number][]): [{ ids: string[]; scores: number[] }, { ids: string[]; scores: number[] }] => {
  const b = [...cs].sort((x, y) => y[1] - x[1]);
  const d = [...cs].sort((x, y) => y[2] - x[2]);
  return [
    { ids: b.map((c) => `d${c[0]}`), scores: b.map((c) => c[1]) },
    { ids: d.map((c) => `d${c[0]}`), scores: d.map((c) => c[2]) },
  ];
};

describe('fusion properties', () => {
  it('convex fusion does not depend on the order of its inputs, and swapping signals with 1 - alpha is the same', () => {
    fc.assert(
      fc.property(cands, fc.constantFrom(...NORMS), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (cs, normalization, alpha, seed) => {
        const [b, d] = lists(cs);
        const ref = byId(fuse(b, d, { kind: 'convex', alpha, normalization }));
        const perm = [...cs].sort((x, y) => ((x[0] * 7919 + seed) % 13) - ((y[0] * 7919 + seed) % 13));
        const pb = { ids: perm.map((c) => `d${c[0]}`), scores: perm.map((c) => c[1]) };
        const pd = { ids: perm.map((c) => `d${c[0]}`), scores: perm.map((c) => c[2]) };
        const shuffled = byId(fuse(pb, pd, { kind: 'convex', alpha, normalization }));
        const swapped = byId(fuse(d, b, { kind: 'convex', alpha: 1 - alpha, normalization }));
        for (const id of Object.keys(ref)) {
          expect(shuffled[id]).toBeCloseTo(ref[id] as number, 9);
          expect(swapped[id]).toBeCloseTo(ref[id] as number, 9);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is monotone in each signal: a candidate at least as good on both signals is ranked at least as high', () => {
    fc.assert(
      fc.property(cands, fc.constantFrom(...NORMS), fc.double({ min: 0, max: 1, noNaN: true }), (cs, normalization, alpha) => {
        const [b, d] = lists(cs);
        const f = byId(fuse(b, d, { kind: 'convex', alpha, normalization }));
        const rrf = byId(fuse(b, d, { kind: 'rrf', k: 60, weights: { bm25: 1, dense: alpha } }));
        for (const x of cs) {
          for (const y of cs) {
            if (x[1] >= y[1] && x[2] >= y[2]) {
              expect(f[`d${x[0]}`]).toBeGreaterThanOrEqual((f[`d${y[0]}`] as number) - 1e-12);
              // ranks follow the sorted lists: ties in score may be ranked either way, strict dominance may not
              if (x[1] > y[1] && x[2] > y[2]) expect(rrf[`d${x[0]}`]).toBeGreaterThan(rrf[`d${y[0]}`] as number);
            }
          }
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('completing a missing signal exactly gives the same fusion as lists that already had it', () => {
    fc.assert(
      fc.property(cands, fc.constantFrom(...NORMS), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 12 }), (cs, normalization, alpha, cut) => {
        const [b, d] = lists(cs);
        const full = byId(fuse(b, d, { kind: 'convex', alpha, normalization }));
        const dense = new Map(d.ids.map((id, i) => [id, d.scores[i] as number]));
        const cutD = { ids: d.ids.slice(0, cut), scores: d.scores.slice(0, cut) };
        const completed = byId(fuse(b, cutD, { kind: 'convex', alpha, normalization }, { dense: (id) => dense.get(id) }));
        for (const id of Object.keys(full)) expect(completed[id]).toBeCloseTo(full[id] as number, 9);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
