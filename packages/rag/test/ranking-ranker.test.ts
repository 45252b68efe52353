import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFeatureExtractor, createMultiPhaseRanker, createRetriever, LinearRanker, trainRanker } from '@dataplane/rag';

describe('learned ranker', () => {
  it('is deterministic for a seed, learns the label order, and validates input', () => {
    const q = { features: [Float64Array.of(3, 0), Float64Array.of(1, 1), Float64Array.of(2, 5)], labels: [2, 0, 1] };
    const a = trainRanker([q], { featureNames: ['good', 'noise'], seed: 1 });
    const b = trainRanker([q], { featureNames: ['good', 'noise'], seed: 1 });
    expect([...a.weights]).toEqual([...b.weights]);
    const s = q.features.map((x) => a.score(x));
    expect(s[0]).toBeGreaterThan(s[2] as number);
    expect(s[2]).toBeGreaterThan(s[1] as number);
    expect(() => trainRanker([{ features: [Float64Array.of(1)], labels: [1] }], { featureNames: ['x'] })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(() => trainRanker([{ features: [Float64Array.of(1, 2)], labels: [1] }], { featureNames: ['x'] })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(() => trainRanker([], { featureNames: ['x'] })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
  });

  it('load rejects missing, non-JSON and inconsistent models', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rag-ranker-'));
    try {
      await expect(LinearRanker.load(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'RAG_NOT_FOUND' });
      await writeFile(join(dir, 'bad.json'), '{oops');
      await expect(LinearRanker.load(join(dir, 'bad.json'))).rejects.toMatchObject({ code: 'RAG_CORRUPT_INDEX' });
      await writeFile(join(dir, 'short.json'), JSON.stringify({ kind: 'pairwise-logistic', version: 1, featureNames: ['a', 'b'], weights: [1], mean: [0, 0], std: [1, 1] }));
      await expect(LinearRanker.load(join(dir, 'short.json'))).rejects.toMatchObject({ code: 'RAG_CORRUPT_INDEX' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('phase 3 re-ranker hook reorders the top hits and is validated', async () => {
    const retriever = createRetriever({ fields: { title: {}, text: {} } });
    await retriever.add([
      { id: 'a', fields: { title: 'wing', text: 'wing lift wing lift' } },
      { id: 'b', fields: { title: 'flap', text: 'wing flap' } },
    ]);
    const fx = createFeatureExtractor({ retriever });
    expect(fx.extract('wing lift', await retriever.search('wing lift'))[0]).toHaveLength(fx.names.length);
    const mp = createMultiPhaseRanker({ retriever, reranker: (_q, hits) => Promise.resolve(hits.map((h) => (h.id === 'b' ? 10 : 0))) });
    const hits = await mp.search('wing', { k: 2 });
    expect(hits.map((h) => [h.id, h.rank])).toEqual([['b', 1], ['a', 2]]);
    expect(hits[0]?.phases.phase3).toBe(10);
    const bad = createMultiPhaseRanker({ retriever, reranker: () => Promise.resolve([1]) });
    await expect(bad.search('wing')).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    expect(() => createMultiPhaseRanker({ retriever, ranker: trainRanker([{ features: [Float64Array.of(1), Float64Array.of(0)], labels: [1, 0] }], { featureNames: ['x'] }) })).toThrow(
      expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }),
    );
    await retriever.close();
  });
});
