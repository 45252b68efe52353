import { describe, expect, it } from 'vitest';
import { createAnswerPipeline, createExtractiveGenerator, createRetriever, createRouter, type Generator } from '@dataplane/rag';

const docs = [
  { id: 'wings', format: 'markdown' as const, text: '# Wings\n\n## Sweep\n\nSwept wings delay shock waves at transonic speed. They also reduce drag rise.\n\n## Flaps\n\nFlaps increase lift at low speed.' },
  { id: 'heat', format: 'html' as const, text: '<h1>Heating</h1><p>Aerodynamic heating grows with Mach number. Ablation protects reentry vehicles.</p>' },
];

describe('answer pipeline', () => {
  it('answers with verified citations, sources with offsets and snippets, routing and sessions', async () => {
    const retriever = createRetriever({ fields: { title: {}, text: {} } });
    const router = createRouter({ models: [{ name: 'small', cost: 1, maxComplexity: 1 }, { name: 'large', cost: 5, maxComplexity: 3 }] });
    const rag = createAnswerPipeline({ retriever, generator: createExtractiveGenerator(), router, k: 3 });
    expect(await rag.indexDocuments(docs)).toBe(3);
    const res = await rag.ask('what do flaps increase?');
    expect(res.answer).toBe('Flaps increase lift at low speed. [1]');
    expect(res.sentences).toEqual([expect.objectContaining({ text: 'Flaps increase lift at low speed.', citations: [1], supported: true })]);
    const src = res.sources[0];
    expect(src).toMatchObject({ n: 1, docId: 'wings', title: 'Wings > Flaps' });
    expect(docs[0]?.text.slice(src?.start, src?.end)).toBe('Flaps increase lift at low speed.');
    expect(src?.snippets[0]?.marked).toContain('**Flaps**');
    expect(res.route?.model).toBe('small');
    expect(res.usage.totalTokens).toBeGreaterThan(0);
    expect(res.session.turns).toHaveLength(1);

    const follow = await rag.ask('and what protects them?', { session: res.session });
    expect(follow.query).not.toBe('and what protects them?');
    expect(follow.session.turns).toHaveLength(2);
    expect(res.session.turns).toHaveLength(1);
    await expect(rag.ask('  ')).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(rag.ask('x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    await retriever.close();
  });

  it('drops or flags sentences the sources do not support', async () => {
    const liar: Generator = {
      id: 'liar',
      generate: () => Promise.resolve({ text: 'Flaps increase lift. [1] Flaps were invented on the moon. [1]', model: 'liar', usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 }, finishReason: 'stop' }),
    };
    const retriever = createRetriever({ fields: { title: {}, text: {} } });
    const drop = createAnswerPipeline({ retriever, generator: liar });
    await drop.indexDocuments(docs);
    expect((await drop.ask('flaps lift')).answer).toBe('Flaps increase lift. [1]');
    const flag = createAnswerPipeline({ retriever, generator: liar, unsupported: 'flag' });
    const r = await flag.ask('flaps lift');
    expect(r.sentences.map((s) => s.supported)).toEqual([true, false]);
    expect(r.answer).toContain('(unsupported)');
    await retriever.close();
  });

  it('real-time freshness: a document added or changed while serving is seen by the next question', async () => {
    const retriever = createRetriever({ fields: { title: {}, text: {} } });
    const rag = createAnswerPipeline({ retriever, generator: createExtractiveGenerator() });
    await rag.indexDocuments(docs);
    const serving = Array.from({ length: 5 }, () => rag.ask('what protects reentry vehicles?'));
    await rag.indexDocuments([{ id: 'scramjet', text: 'Scramjets burn hydrogen in supersonic airflow.' }]);
    await Promise.all(serving);
    expect((await rag.ask('what do scramjets burn?')).answer).toBe('Scramjets burn hydrogen in supersonic airflow. [1]');
    await rag.indexDocuments([{ id: 'scramjet', text: 'Scramjets burn kerosene in supersonic airflow.' }]);
    const changed = await rag.ask('what do scramjets burn?');
    expect(changed.answer).toBe('Scramjets burn kerosene in supersonic airflow. [1]');
    expect(changed.sources.filter((s) => s.docId === 'scramjet')).toHaveLength(1);
    await rag.removeDocument('scramjet');
    expect((await rag.ask('what do scramjets burn?')).sources.some((s) => s.docId === 'scramjet')).toBe(false);
    // a second pipeline over the same retriever (as after a reload) still replaces a document's old passages
    const other = createAnswerPipeline({ retriever, generator: createExtractiveGenerator() });
    await other.indexDocuments([{ id: 'wings', text: 'Wings are short now.' }]);
    expect(retriever.get('wings#1')).toBeUndefined();
    expect(await other.removeDocument('wings')).toBe(1);
    await retriever.close();
  });
});
