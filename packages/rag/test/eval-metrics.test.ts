import { describe, expect, it } from 'vitest';
import { evaluateRun, mrrAt, ndcgAt, recallAt } from '@dataplane/rag';

const run = (...ids: string[]): { id: string; score: number }[] => ids.map((id, i) => ({ id, score: ids.length - i }));

describe('metrics (trec_eval definitions, hand-computed)', () => {
  it('nDCG@10 with graded gains and an ideal over all judged relevant docs', () => {
    const judged = new Map([
      ['d1', 3],
      ['d2', 2],
      ['d3', 1],
      ['d9', 0],
    ]);
    // ranking: d2 (2), x (0), d1 (3); ideal: 3, 2, 1
    const dcg = 2 / Math.log2(2) + 3 / Math.log2(4);
    const idcg = 3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4);
    expect(ndcgAt(run('d2', 'x', 'd1'), judged, 10)).toBeCloseTo(dcg / idcg, 12);
    expect(ndcgAt(run('d1', 'd2', 'd3'), judged, 10)).toBeCloseTo(1, 12);
    expect(ndcgAt(run('d3', 'd2', 'd1'), judged, 1)).toBeCloseTo(1 / 3, 12);
    expect(ndcgAt([], judged, 10)).toBe(0);
    expect(ndcgAt(run('d1'), new Map([['d1', 0]]), 10)).toBe(0);
  });

  it('breaks score ties by document id descending, like trec_eval', () => {
    const judged = new Map([['a', 1]]);
    const tied = [
      { id: 'a', score: 1 },
      { id: 'b', score: 1 },
    ];
    // trec_eval ranks b before a
    expect(mrrAt(tied, judged, 10)).toBe(0.5);
    expect(ndcgAt(tied, judged, 10)).toBeCloseTo(1 / Math.log2(3), 12);
  });

  it('Recall@100 and MRR@10', () => {
    const judged = new Map([
      ['r1', 1],
      ['r2', 4],
      ['r3', 1],
      ['n', -1],
    ]);
    expect(recallAt(run('r1', 'x', 'r2'), judged, 100)).toBeCloseTo(2 / 3, 12);
    expect(recallAt(run('x', 'r1'), judged, 1)).toBe(0);
    expect(mrrAt(run('x', 'n', 'r3'), judged, 10)).toBeCloseTo(1 / 3, 12);
    const long = run(...Array.from({ length: 10 }, (_, i) => `x${i}`), 'r1');
    expect(mrrAt(long, judged, 10)).toBe(0);
  });

  it('averages over judged queries with a relevant doc, missing runs count as 0', () => {
    const qrels = new Map([
      ['q1', new Map([['a', 1]])],
      ['q2', new Map([['b', 1]])],
      ['q3', new Map([['c', 0]])],
    ]);
    const res = evaluateRun(new Map([['q1', run('a')]]), qrels);
    expect(res.queries).toBe(2);
    expect(res.mean).toEqual({ ndcg10: 0.5, recall100: 0.5, mrr10: 0.5 });
    expect(() => evaluateRun(new Map(), new Map([['q', new Map([['a', 0]])]]))).toThrow(/no relevant/);
  });
});
