import { describe, expect, it } from 'vitest';
import { createExtractiveGenerator, extractSnippets, verifyCitations, type Embedder } from '@dataplane/rag';

const sources = [
  { n: 1, id: 'a#0', text: 'Clouds form over the sea. Swept wings delay shock waves at transonic speed. Rain falls.' },
  { n: 2, id: 'b#0', text: 'Flaps increase lift at low speed. Swept wings delay shock waves at transonic speed.' },
];

describe('extractive generator', () => {
  it('answers only with retrieved sentences, each cited, duplicates merged', async () => {
    const gen = createExtractiveGenerator({ maxSentences: 2 });
    const res = await gen.generate({ question: 'why use swept wings at transonic speed', sources });
    expect(res.text).toBe('Swept wings delay shock waves at transonic speed. [1][2] Flaps increase lift at low speed. [2]');
    const all = sources.map((s) => s.text).join(' ');
    for (const s of await verifyCitations(res.text, sources)) {
      expect(all).toContain(s.text);
      expect(s.supported).toBe(true);
    }
    expect((await gen.generate({ question: 'volcano eruptions', sources })).text).toBe('The sources do not answer this question.');
    await expect(gen.generate({ question: 'x', sources, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    expect(() => createExtractiveGenerator({ maxSentences: 0 })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
  });
});

describe('citation verifier', () => {
  it('flags sentences without support, without citations or citing unknown sources', async () => {
    const out = await verifyCitations('Flaps increase lift. [2] The moon is made of cheese [1]. Rain falls. Shock waves appear [9].', sources);
    expect(out.map((s) => [s.text, s.citations, s.supported])).toEqual([
      ['Flaps increase lift.', [2], true],
      ['The moon is made of cheese.', [1], false],
      ['Rain falls.', [], false],
      ['Shock waves appear.', [9], false],
    ]);
  });

  it('accepts paraphrases with embedding support when lexical support is partial', async () => {
    const embedder: Embedder = {
      id: 'fake',
      dimensions: 2,
      embed: (texts) => Promise.resolve(texts.map((t) => (/delay|postpone/.test(t) ? Float32Array.of(1, 0) : Float32Array.of(0, 1)))),
    };
    const s = 'Swept wings postpone the onset of shocks in flight. [1]';
    const [lex] = await verifyCitations(s, sources);
    expect(lex?.supported).toBe(false);
    const [emb] = await verifyCitations(s, sources, { embedder });
    expect(emb?.supported).toBe(true);
    expect(emb?.embeddingSupport).toBeCloseTo(1);
  });
});

describe('snippets', () => {
  it('returns the best sentences with highlights whose offsets point at the terms', () => {
    const text = sources[1]?.text ?? '';
    const snips = extractSnippets('lift flaps', text, { count: 1 });
    expect(snips).toHaveLength(1);
    expect(snips[0]?.marked).toBe('**Flaps** increase **lift** at low speed.');
    for (const h of snips[0]?.highlights ?? []) expect(text.slice(h.start, h.end).toLowerCase()).toMatch(/^(flaps|lift)$/);
    expect(extractSnippets('volcano', text)).toEqual([]);
    expect(() => extractSnippets('x', text, { count: 0 })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
  });
});

describe('extractive generator on Markdown sources', () => {
  it('never quotes table rows, headings or code, and keeps list items apart', async () => {
    const text = [
      '# Swept wings',
      'Swept wings delay shock waves at transonic speed.',
      '',
      '| wing | shock waves |',
      '| --- | --- |',
      '| swept | delayed |',
      '',
      '```',
      'swept wings shock waves transonic',
      '```',
      '- Swept wings reduce drag near Mach one',
      '- Straight wings are simpler',
    ].join('\n');
    const gen = createExtractiveGenerator({ maxSentences: 3 });
    const res = await gen.generate({ question: 'swept wings shock waves transonic', sources: [{ n: 1, id: 'md#0', text }] });
    expect(res.text).toBe('Swept wings delay shock waves at transonic speed. [1] Swept wings reduce drag near Mach one. [1] Straight wings are simpler. [1]');
    expect(res.text).not.toMatch(/[|#`]/);
  });
});
