import { describe, expect, it } from 'vitest';
import { createAnalyzer, getAnalyzer, RagError } from '@dataplane/rag';

describe('analyzer', () => {
  const en = getAnalyzer('english');

  it('folds case and Unicode (NFKC), drops stop words but keeps positions, stems', () => {
    const toks = en.analyze('The ﬁrst Flows over WINGS');
    expect(toks.map((t) => t.term)).toEqual(['first', 'flow', 'wing']);
    expect(toks.map((t) => t.position)).toEqual([1, 2, 4]);
  });

  it('reports offsets into the original text', () => {
    const text = 'Supersonic  flow, café!';
    for (const t of en.analyze(text)) {
      const raw = text.slice(t.start, t.end).toLowerCase();
      expect(raw.startsWith(t.term.slice(0, 3))).toBe(true);
    }
    expect(en.analyze(text).at(-1)).toMatchObject({ start: 18, end: 22 });
  });

  it('keeps identifiers and numbers whole and unstemmed', () => {
    const terms = en.analyze('max_flow_rate x86 3.14 version 1.2.3 at 10 flows').map((t) => t.term);
    expect(terms).toEqual(['max_flow_rate', 'x86', '3.14', 'version', '1.2.3', '10', 'flow']);
  });

  it('standard analyzer does not stem nor drop stop words; keyword keeps the whole text', () => {
    expect(getAnalyzer('standard').analyze('The Flows').map((t) => t.term)).toEqual(['the', 'flows']);
    expect(getAnalyzer('keyword').analyze(' Blue-Green ').map((t) => t.term)).toEqual(['blue-green']);
    expect(getAnalyzer('keyword').analyze('  ')).toEqual([]);
  });

  it('accepts a custom stop-word list and rejects bad options and input', () => {
    const a = createAnalyzer({ stopWords: new Set(['flow']), stem: false });
    expect(a.analyze('flow of air').map((t) => t.term)).toEqual(['of', 'air']);
    expect(() => createAnalyzer({ minLength: 0 })).toThrow(RagError);
    expect(() => getAnalyzer('klingon')).toThrow(/unknown analyzer/);
    expect(() => en.analyze(42 as unknown as string)).toThrow(RagError);
  });
});
