import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkDocument } from '@dataplane/rag';

const RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const word = fc.stringMatching(/^[a-zA-Z]{1,8}[.,]?$/);
const para = fc.array(word, { minLength: 1, maxLength: 40 }).map((w) => w.join(' '));

describe('chunkDocument properties', () => {
  it('plain text: offsets map back exactly, every word is covered, sizes are bounded', () => {
    fc.assert(
      fc.property(fc.array(para, { minLength: 0, maxLength: 6 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 29 }), (paras, max, ov) => {
        const overlap = Math.min(ov, max - 1);
        const src = paras.join('\n\n');
        const ps = chunkDocument(src, { maxTokens: max, overlapTokens: overlap, docId: 'd' });
        for (const p of ps) {
          expect(src.slice(p.start, p.end)).toBe(p.text);
          expect(p.tokens).toBeLessThanOrEqual(max);
          expect(p.tokens).toBe(p.text.split(/\s+/).filter((x) => x !== '').length);
        }
        const covered = new Uint8Array(src.length);
        for (const p of ps) covered.fill(1, p.start, p.end);
        for (const m of src.matchAll(/\S+/g)) expect(covered[m.index]).toBe(1);
        ps.forEach((p, i) => expect(p.id).toBe(`d#${i}`));
      }),
      { numRuns: RUNS },
    );
  });

  it('markdown: headings are not in passages, heading paths nest, offsets exact', () => {
    const section = fc.record({ level: fc.integer({ min: 1, max: 3 }), title: fc.stringMatching(/^[A-Z][a-z]{1,6}$/), body: para });
    fc.assert(
      fc.property(fc.array(section, { minLength: 1, maxLength: 6 }), fc.integer({ min: 3, max: 20 }), (secs, max) => {
        const src = secs.map((s) => `${'#'.repeat(s.level)} ${s.title}\n\n${s.body}\n`).join('\n');
        const ps = chunkDocument(src, { format: 'markdown', maxTokens: max, overlapTokens: 1 });
        for (const p of ps) {
          expect(src.slice(p.start, p.end)).toBe(p.text);
          expect(p.text).not.toMatch(/^#/m);
          expect(p.headingPath.length).toBeGreaterThan(0);
        }
        const words = secs.reduce((n, s) => n + s.body.split(' ').length, 0);
        const covered = new Set(ps.flatMap((p) => [...p.text.matchAll(/\S+/g)].map((m) => p.start + m.index)));
        expect(covered.size).toBe(words);
      }),
      { numRuns: RUNS },
    );
  });
});
