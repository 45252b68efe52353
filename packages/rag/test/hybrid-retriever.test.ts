import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetriever, loadRetriever, type Embedder } from '@dataplane/rag';

/** A tiny deterministic "embedder" over 3 topics, for testing the plumbing (not semantic). */
const TOPICS = [['flow', 'shock', 'supersonic'], ['wing', 'lift', 'drag'], ['heat', 'temperature', 'thermal']];
const topicEmbedder: Embedder = {
  id: 'topics-3',
  dimensions: 3,
  embed: (texts) =>
    Promise.resolve(
      texts.map((t) => {
        const v = TOPICS.map((ws) => ws.filter((w) => t.toLowerCase().includes(w)).length + 0.01);
        return Float32Array.from(v);
      }),
    ),
};

const docs = [
  { id: 'a', fields: { text: 'supersonic flow with a shock' }, meta: { y: 1 } },
  { id: 'b', fields: { text: 'lift and drag of a wing' }, meta: { y: 2 } },
  { id: 'c', fields: { text: 'thermal heat load' }, meta: { y: 3 } },
  { id: 'd', fields: { text: 'wing flow interaction' }, meta: { y: 4 } },
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('hybrid retriever', () => {
  it('dense mode finds semantically close docs without shared terms; hybrid carries both signals', async () => {
    await using r = createRetriever({ fields: { text: {} }, embedder: topicEmbedder });
    await r.add(docs);
    const dense = await r.search('temperature', { mode: 'dense', k: 1 });
    expect(dense[0]?.id).toBe('c');
    expect(dense[0]?.signals.denseRank).toBe(1);
    const hy = await r.search('wing', { k: 4, fusion: { kind: 'rrf', weights: { bm25: 1, dense: 1 } } });
    expect(hy[0]?.signals).toMatchObject({ bm25Rank: expect.any(Number), denseRank: expect.any(Number), fused: expect.any(Number) });
    expect(['b', 'd']).toContain(hy[0]?.id);
    const filtered = await r.search('wing', { mode: 'dense', filter: { y: { gte: 3 } } });
    expect(filtered.every((h) => ['c', 'd'].includes(h.id))).toBe(true);
    expect(r.stats().vectors).toBe(4);
  });

  it('accepts precomputed vectors without an embedder', async () => {
    const r = createRetriever({ fields: { text: {} }, dimensions: 2 });
    await r.add([
      { id: 'x', fields: { text: 'one' }, vector: new Float32Array([1, 0]) },
      { id: 'y', fields: { text: 'two' }, vector: new Float32Array([0, 1]) },
    ]);
    const hits = await r.search('', { mode: 'dense', vector: new Float32Array([0.1, 1]) });
    expect(hits.map((h) => h.id)).toEqual(['y', 'x']);
    await expect(r.add({ id: 'z', fields: {}, vector: new Float32Array(3) })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
  });

  it('saves both indexes and reloads them with identical results, then keeps accepting writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rag-persist-'));
    dirs.push(dir);
    const r = createRetriever({ fields: { title: { boost: 2 }, text: {} }, embedder: topicEmbedder, hnsw: { exactBelow: 0, M: 4 } });
    const many = Array.from({ length: 300 }, (_, i) => ({
      id: `doc${i}`,
      fields: { title: `t${i % 7}`, text: `${['flow shock', 'wing lift', 'heat'][i % 3] ?? ''} item${i} common` },
      meta: { i },
    }));
    await r.add(many);
    await r.delete(['doc1', 'doc2']);
    await r.save(dir);
    const back = await loadRetriever(dir, { embedder: topicEmbedder });
    expect(back.size).toBe(r.size);
    for (const q of ['flow item3', 'wing', 'heat common t3']) {
      for (const mode of ['bm25', 'dense', 'hybrid'] as const) {
        expect(await back.search(q, { mode, k: 20 })).toEqual(await r.search(q, { mode, k: 20 }));
      }
    }
    expect(back.get('doc5')?.meta).toEqual({ i: 5 });
    await back.add({ id: 'new', fields: { text: 'brand new heat' } });
    expect((await back.search('brand', { mode: 'bm25' }))[0]?.id).toBe('new');
    await expect(loadRetriever(dir, { embedder: { ...topicEmbedder, id: 'other' } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await writeFile(join(dir, 'manifest.json'), '{ broken');
    await expect(loadRetriever(dir)).rejects.toMatchObject({ code: 'RAG_CORRUPT_INDEX' });
  });

  it('compacts postings after many deletes and stays correct', async () => {
    const r = createRetriever({ fields: { text: {} } });
    await r.add(Array.from({ length: 2500 }, (_, i) => ({ id: String(i), fields: { text: `w${i % 10} shared` } })));
    await r.delete(Array.from({ length: 2400 }, (_, i) => String(i)));
    expect(r.stats().deletedPending).toBeLessThan(1001);
    const hits = await r.search('w3 shared', { k: 100 });
    expect(hits.map((h) => h.id).sort()).toEqual(Array.from({ length: 100 }, (_, i) => String(2400 + i)).sort());
    expect(hits[0]?.id).toBe('2403');
  });
});
