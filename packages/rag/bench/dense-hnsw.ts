import HnswLib from 'hnswlib-node';
import type { BenchCase } from '@dataplane/bench';
import { HnswIndex } from '../src/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Clustered vectors (100 Gaussian-ish clusters), closer to real embeddings than uniform noise. */
function clustered(n: number, d: number, seed: number): Float32Array[] {
  const r = rng(seed);
  const centers = Array.from({ length: 100 }, () => Float32Array.from({ length: d }, () => r() * 2 - 1));
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)] as Float32Array;
    return Float32Array.from(c, (x) => x + (r() + r() + r() - 1.5) * 0.6);
  });
}

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = 1 / Math.sqrt(n);
  return v.map((x) => x * inv);
}

/** HNSW recall@10 and queries/s at several efSearch, ours vs hnswlib-node (C++), same vectors and M/efConstruction. */
export const hnswRecall: BenchCase = {
  name: 'hnsw-recall-qps',
  run(ctx) {
    const d = 384;
    const n = ctx.quick ? 2000 : 20000;
    const nq = ctx.quick ? 50 : 300;
    const M = 16;
    const efC = 200;
    const data = clustered(n, d, 1).map(normalise);
    const queries = clustered(nq, d, 2).map(normalise);
    // exact ground truth
    const truth = queries.map((q) => {
      const s = data.map((v, i) => {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += (v[j] as number) * (q[j] as number);
        return { i, dot };
      });
      s.sort((a, b) => b.dot - a.dot);
      return new Set(s.slice(0, 10).map((x) => x.i));
    });
    const ours = new HnswIndex({ dimensions: d, M, efConstruction: efC, exactBelow: 0 });
    let t = performance.now();
    data.forEach((v, i) => {
      ours.add(v);
      if (i % 1000 === 0) ctx.progress('ours build', i, n);
    });
    const oursBuild = n / ((performance.now() - t) / 1000);
    const lib = new HnswLib.HierarchicalNSW('cosine', d);
    lib.initIndex(n, M, efC, 100);
    t = performance.now();
    data.forEach((v, i) => lib.addPoint(Array.from(v), i));
    const libBuild = n / ((performance.now() - t) / 1000);
    ctx.report({ metric: 'hnsw build', unit: 'vectors/s', higherIsBetter: true, ours: oursBuild, peers: { 'hnswlib-node': libBuild }, notes: { n, d, M, efConstruction: efC } });
    const qArrays = queries.map((q) => Array.from(q));
    for (const ef of ctx.quick ? [10, 40, 160] : [10, 20, 40, 80, 160, 320, 640]) {
      let hitOurs = 0;
      let hitLib = 0;
      t = performance.now();
      queries.forEach((q, qi) => {
        for (const h of ours.search(q, 10, { ef })) if ((truth[qi] as Set<number>).has(h.node)) hitOurs++;
      });
      const qpsOurs = nq / ((performance.now() - t) / 1000);
      lib.setEf(ef);
      t = performance.now();
      qArrays.forEach((q, qi) => {
        for (const id of lib.searchKnn(q, 10).neighbors) if ((truth[qi] as Set<number>).has(id)) hitLib++;
      });
      const qpsLib = nq / ((performance.now() - t) / 1000);
      const notes = { n, d, M, efConstruction: efC, efSearch: ef, queries: nq };
      ctx.report({ metric: `recall@10 ef=${ef}`, unit: 'recall', higherIsBetter: true, ours: hitOurs / (nq * 10), peers: { 'hnswlib-node': hitLib / (nq * 10) }, notes });
      ctx.report({ metric: `queries/s ef=${ef}`, unit: 'q/s', higherIsBetter: true, ours: qpsOurs, peers: { 'hnswlib-node': qpsLib }, notes: { ...notes, goal: '>= 0.5x hnswlib-node at recall >= 0.95' } });
    }
  },
};
