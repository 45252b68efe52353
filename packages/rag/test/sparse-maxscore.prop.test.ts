import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bm25Index } from '../src/sparse/bm25-index.js';
import { getAnalyzer } from '@dataplane/rag';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 150);
const VOCAB = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];

describe('MaxScore top-k', () => {
  it('equals exhaustive scoring after random adds and deletes', () => {
    const word = fc.constantFrom(...VOCAB);
    const text = fc.array(word, { minLength: 0, maxLength: 12 }).map((w) => w.join(' '));
    const op = fc.oneof(
      fc.record({ add: fc.tuple(text, text) }),
      fc.record({ del: fc.nat(60) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), fc.array(word, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 8 }), (ops, q, k) => {
        const an = getAnalyzer('standard');
        const idx = new Bm25Index(
          [
            { name: 't', boost: 2, b: 0.75, analyzer: an },
            { name: 'x', boost: 1, b: 0.5, analyzer: an },
          ],
          1.2,
        );
        const live: { doc: number; text: Record<string, string> }[] = [];
        for (const o of ops) {
          if ('add' in o) {
            const t = { t: o.add[0], x: o.add[1] };
            live.push({ doc: idx.add(t), text: t });
          } else if (live.length > 0) {
            const [victim] = live.splice(o.del % live.length, 1);
            if (victim) idx.remove(victim.doc, victim.text);
          }
        }
        const terms = [...new Set(q)].map((term) => ({ term, weight: 1 }));
        const fast = idx.search(terms, k);
        const slow = idx.search(terms, k, undefined, true);
        expect(fast.length).toBe(slow.length);
        for (let i = 0; i < fast.length; i++) expect(fast[i]?.score).toBeCloseTo(slow[i]?.score ?? NaN, 9);
        // ids agree except among (floating-point) ties
        const same = fast.filter((h, i) => h.doc === slow[i]?.doc || Math.abs(h.score - (slow[i]?.score ?? 0)) < 1e-9);
        expect(same.length).toBe(fast.length);
        for (const h of fast) expect(live.some((l) => l.doc === h.doc)).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
