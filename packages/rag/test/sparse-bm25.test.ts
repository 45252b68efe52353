import { describe, expect, it } from 'vitest';
import { createRetriever, RagError } from '@dataplane/rag';

const docs = [
  { id: 'a', fields: { title: 'Supersonic flow', text: 'shock waves in supersonic flow over a wedge' }, meta: { year: 1960, kind: 'report' } },
  { id: 'b', fields: { title: 'Boundary layer', text: 'laminar boundary layer on a flat plate in incompressible flow' }, meta: { year: 1955, kind: 'paper' } },
  { id: 'c', fields: { title: 'Heat transfer', text: 'heat transfer in hypersonic flow near the stagnation point' }, meta: { year: 1962, kind: 'paper' } },
  { id: 'd', fields: { title: 'Wings', text: 'lift of a swept wing at low speed' }, meta: { year: 1958, kind: 'report' } },
];

function bm25(tf: number, len: number, avg: number, df: number, n: number, k1 = 1.2, b = 0.75): number {
  const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  return (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * len) / avg));
}

describe('BM25 index', () => {
  it('scores a single field exactly as BM25 (hand-computed)', async () => {
    const r = createRetriever({ fields: { text: { analyzer: 'standard' } } });
    await r.add([
      { id: '1', fields: { text: 'wing wing lift' } },
      { id: '2', fields: { text: 'lift drag' } },
      { id: '3', fields: { text: 'drag' } },
    ]);
    const hits = await r.search('wing');
    expect(hits).toHaveLength(1);
    expect(hits[0]?.score).toBeCloseTo(bm25(2, 3, 2, 1, 3), 10);
    const lift = await r.search('lift');
    expect(lift.map((h) => h.id)).toEqual(['2', '1']);
    expect(lift[0]?.score).toBeCloseTo(bm25(1, 2, 2, 2, 3), 10);
    expect(lift[1]?.signals.bm25Rank).toBe(2);
  });

  it('applies field boosts (BM25F) and returns per-field scores', async () => {
    const plain = createRetriever({ fields: { title: {}, text: {} } });
    const boosted = createRetriever({ fields: { title: { boost: 5 }, text: {} } });
    await plain.add(docs);
    await boosted.add(docs);
    const q = 'supersonic flow';
    const p = await plain.search(q);
    const bb = await boosted.search(q);
    expect(bb[0]?.id).toBe('a');
    expect((bb[0]?.score ?? 0) > (p[0]?.score ?? 0)).toBe(true);
    expect(bb[0]?.fieldScores?.title).toBeGreaterThan(0);
    expect(plain.fieldScores(q, 'a')).toEqual(p[0]?.fieldScores);
    expect(plain.fieldScores(q, 'zzz')).toBeUndefined();
  });

  it('supports required, excluded and phrase terms and metadata filters', async () => {
    const r = createRetriever({ fields: { title: {}, text: {} } });
    await r.add(docs);
    const ids = async (q: string, o: object): Promise<string[]> => (await r.search(q, o)).map((h) => h.id).sort();
    expect(await ids('flow', {})).toEqual(['a', 'b', 'c']);
    expect(await ids('flow', { required: ['boundary'] })).toEqual(['b']);
    expect(await ids('flow', { excluded: ['heat'] })).toEqual(['a', 'b']);
    expect(await ids('flow', { phrase: ['supersonic flow over'] })).toEqual(['a']);
    expect(await ids('flow', { phrase: ['flow supersonic'] })).toEqual([]);
    expect(await ids('flow', { filter: { kind: 'paper' } })).toEqual(['b', 'c']);
    expect(await ids('flow', { filter: { year: { gte: 1956, lt: 1962 } } })).toEqual(['a']);
    expect(await ids('flow', { filter: { kind: ['report', 'x'] } })).toEqual(['a']);
    expect(await ids('flow', { filter: (m: Record<string, unknown>) => m.year === 1962 })).toEqual(['c']);
    await expect(r.search('flow', { filter: { year: { between: 1 } } as never })).rejects.toThrow(RagError);
  });

  it('updates and deletes in real time; document frequencies follow', async () => {
    const r = createRetriever({ fields: { text: {} } });
    await r.add(docs.map((d) => ({ id: d.id, fields: { text: d.fields.text } })));
    expect((await r.search('wing')).map((h) => h.id)).toEqual(['d']);
    await r.update({ id: 'd', fields: { text: 'propeller noise' } });
    expect(await r.search('wing')).toEqual([]);
    expect((await r.search('propeller')).map((h) => h.id)).toEqual(['d']);
    expect(await r.delete(['d', 'nope'])).toBe(1);
    expect(await r.search('propeller')).toEqual([]);
    expect(r.size).toBe(3);
    await expect(r.update({ id: 'nope', fields: { text: 'x' } })).rejects.toMatchObject({ code: 'RAG_NOT_FOUND' });
    expect(r.stats()).toMatchObject({ docs: 3, deletes: 1 });
  });

  it('a search in flight sees a consistent view while writes happen', async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((res) => (release = res));
    const embedder = {
      id: 'slow',
      dimensions: 2,
      embed: async (texts: readonly string[]) => {
        if (texts.length === 1 && texts[0] === 'q') await gate;
        return texts.map(() => new Float32Array([1, 0]));
      },
    };
    const r = createRetriever({ fields: { text: {} }, embedder });
    await r.add([{ id: 'x', fields: { text: 'alpha' } }]);
    const pending = r.search('q', { mode: 'hybrid' });
    await r.add([{ id: 'y', fields: { text: 'alpha' } }]);
    await r.delete('x');
    release?.();
    const hits = await pending;
    expect(hits.map((h) => h.id)).toEqual(['y']);
  });

  it('validates input and honours close and abort', async () => {
    const r = createRetriever({ fields: { text: {} } });
    await expect(r.add({ id: '', fields: {} })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.add({ id: 'x', fields: { text: 1 as unknown as string } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.add({ id: 'x', fields: {}, meta: { o: {} as unknown as string } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.search('x', { k: -1 })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.search('x', { mode: 'dense' })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.search('x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'RAG_ABORTED' });
    expect(() => createRetriever({ fields: {} })).toThrow(RagError);
    expect(() => createRetriever({ fields: { t: {} }, b: 2 })).toThrow(RagError);
    await r.close();
    await r.close();
    await expect(r.search('x')).rejects.toMatchObject({ code: 'RAG_CLOSED' });
    await expect(r.delete('x')).rejects.toMatchObject({ code: 'RAG_CLOSED' });
    await expect(r.add({ id: 'x', fields: {} })).rejects.toMatchObject({ code: 'RAG_CLOSED' });
  });
});
