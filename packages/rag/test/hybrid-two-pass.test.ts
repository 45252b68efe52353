import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createRetriever, fuse, loadRetriever, LSA_TWO_PASS_FUSION, type ConvexFusion, type Doc, type Embedder, type Fusion, type SearchHit } from '@dataplane/rag';

/** A tiny deterministic "embedder" over 3 topics, for testing the plumbing (not semantic). */
const TOPICS = [['flow', 'shock', 'supersonic'], ['wing', 'lift', 'drag'], ['heat', 'boundary', 'layer']];
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

const docs: Doc[] = [
  { id: 'a', fields: { title: 'Boundary layer', text: 'heat transfer in a laminar boundary layer' } },
  { id: 'b', fields: { title: 'Layer of paint', text: 'the boundary of a wing and a thin layer of ice' } },
  { id: 'c', fields: { title: 'Shock', text: 'supersonic flow with a shock at the wing' } },
  { id: 'd', fields: { title: 'Lift', text: 'lift and drag of a swept wing in supersonic flow' } },
  { id: 'e', fields: { title: 'Heat', text: 'heat load near the leading edge' } },
];
const FIELDS = { title: {}, text: {} };
const TWO_PASS = LSA_TWO_PASS_FUSION as ConvexFusion;

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const view = (hits: SearchHit[]): [string, number][] => hits.map((h) => [h.id, h.score]);

describe('word-pair signal and two-pass hybrid', () => {
  it('scores consecutive term pairs: the phrase outranks the same words apart', async () => {
    await using r = createRetriever({ fields: FIELDS, embedder: topicEmbedder, fusion: TWO_PASS });
    await r.add(docs);
    const hits = await r.search('boundary layer', { k: 5 });
    const a = hits.find((h) => h.id === 'a');
    const b = hits.find((h) => h.id === 'b');
    expect(a?.signals.pairs).toBeGreaterThan(0);
    expect(b?.signals.pairs).toBe(0);
    expect(hits[0]?.id).toBe('a');
    // one-pass fusions report no pairs signal
    const plain = await r.search('boundary layer', { k: 5, fusion: { kind: 'convex', alpha: 0.5, normalization: 'zscore' } });
    expect(plain.every((h) => h.signals.pairs === undefined)).toBe(true);
  });

  it('a first pass with beta 0 leaves the dense query, and the results, as one pass with the same weights', async () => {
    await using r = createRetriever({ fields: FIELDS, embedder: topicEmbedder });
    await r.add(docs);
    const one: Fusion = { kind: 'convex', alpha: 0.7, normalization: 'zscore', pairs: 0.2 };
    const two: Fusion = { ...one, firstPass: { alpha: 0.6, pairs: 0.2, docs: 3, beta: 0 } };
    for (const q of ['boundary layer heat', 'supersonic wing', 'lift']) {
      const x = await r.search(q, { k: 5, fusion: one, feedback: false });
      const y = await r.search(q, { k: 5, fusion: two, feedback: false });
      expect(y.map((h) => h.id)).toEqual(x.map((h) => h.id));
      y.forEach((h, i) => expect(h.score).toBeCloseTo((x[i] as SearchHit).score, 9));
    }
    // with feedback the dense scores move toward the first pass's top documents
    const fed = await r.search('boundary wing', { k: 5, fusion: { ...two, firstPass: { alpha: 0.6, docs: 1, beta: 4 } }, feedback: false });
    const unfed = await r.search('boundary wing', { k: 5, fusion: one, feedback: false });
    expect(fed.map((h) => h.signals.dense)).not.toEqual(unfed.map((h) => h.signals.dense));
  });

  it('builds the pair index on first use, keeps it up to date and rebuilds it after a reload', async () => {
    // configured without pairs: the first two-pass query builds the index from the stored documents
    await using r = createRetriever({ fields: FIELDS, embedder: topicEmbedder });
    await r.add(docs);
    const before = await r.search('boundary layer', { k: 5, fusion: TWO_PASS });
    expect(before[0]?.id).toBe('a');
    await r.update({ id: 'a', fields: { title: 'Layer', text: 'a layer at the boundary' } });
    await r.add({ id: 'f', fields: { title: 'Boundary layers', text: 'turbulent boundary layer separation' } });
    await r.delete('b');
    const after = await r.search('boundary layer', { k: 5, fusion: TWO_PASS });
    expect(after[0]?.id).toBe('f');
    expect(after.find((h) => h.id === 'a')?.signals.pairs).toBe(0);
    expect(after.some((h) => h.id === 'b')).toBe(false);

    const dir = await mkdtemp(join(tmpdir(), 'rag-two-pass-'));
    dirs.push(dir);
    await r.save(dir);
    await using back = await loadRetriever(dir, { embedder: topicEmbedder });
    expect(view(await back.search('boundary layer', { k: 5, fusion: TWO_PASS }))).toEqual(view(after));
    await back.add({ id: 'g', fields: { title: 'Boundary layer', text: 'boundary layer boundary layer' } });
    expect((await back.search('boundary layer', { k: 1, fusion: TWO_PASS }))[0]?.id).toBe('g');
  });

  it('rejects a negative or non-finite pairs weight', async () => {
    await using r = createRetriever({ fields: FIELDS, embedder: topicEmbedder });
    await r.add(docs);
    await expect(r.search('wing', { fusion: { kind: 'convex', alpha: 0.5, pairs: -1 } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.search('wing', { fusion: { kind: 'convex', alpha: 0.5, pairs: Number.NaN } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    await expect(r.search('wing', { fusion: { ...TWO_PASS, firstPass: { alpha: 0.5, docs: -1 } } })).rejects.toMatchObject({ code: 'RAG_INVALID_ARGUMENT' });
    expect(() => fuse({ ids: ['x'], scores: [1] }, { ids: [], scores: [] }, { kind: 'convex', alpha: 0.5, pairs: -0.1 })).toThrow(/pairs/);
  });

  it('property: after any adds, updates and deletes the pair signal equals a fresh build of the final documents', async () => {
    const WORDS = ['boundary', 'layer', 'wing', 'flow', 'heat', 'shock', 'lift', 'the'];
    const text = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 }).map((ws) => ws.join(' '));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 5 }), title: text, body: text }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 5 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), fc.constantFrom(...WORDS), fc.constantFrom(...WORDS), async (ops, w1, w2) => {
        await using live = createRetriever({ fields: FIELDS, embedder: topicEmbedder, fusion: TWO_PASS });
        const final = new Map<string, Doc>();
        for (const o of ops) {
          const id = `d${o.id}`;
          if (o.kind === 'put') {
            const d = { id, fields: { title: o.title, text: o.body } };
            await live.add(d);
            final.set(id, d);
          } else {
            await live.delete(id);
            final.delete(id);
          }
        }
        await using fresh = createRetriever({ fields: FIELDS, embedder: topicEmbedder, fusion: TWO_PASS });
        await fresh.add([...final.values()].sort((x, y) => (x.id < y.id ? -1 : 1)));
        const q = `${w1} ${w2}`;
        const a = await live.search(q, { k: 10 });
        const b = await fresh.search(q, { k: 10 });
        const pairs = (hs: SearchHit[]): Map<string, number | undefined> => new Map(hs.map((h) => [h.id, h.signals.pairs]));
        const pa = pairs(a);
        for (const [id, p] of pairs(b)) if (pa.has(id)) expect(pa.get(id)).toBeCloseTo(p ?? 0, 9);
        expect(new Set(a.map((h) => h.id))).toEqual(new Set(b.map((h) => h.id)));
      }),
      { numRuns: 60, seed: 8 },
    );
  });
});
