import { create, insertMultiple, search as oramaSearch } from '@orama/orama';
import MiniSearch from 'minisearch';
import { percentile, type BenchCase } from '@dataplane/bench';
import { createRetriever, evaluateRun, type RunEntry } from '../src/index.js';
import { cranfield, heapUsed } from './data.js';

interface System {
  build(docs: { id: string; title: string; text: string }[]): Promise<void>;
  search(q: string, k: number): Promise<RunEntry[]>;
}

function ours(): System {
  const r = createRetriever({ fields: { title: {}, text: {} }, k1: 1.2, b: 0.75 });
  return {
    build: (docs) => r.add(docs.map((d) => ({ id: d.id, fields: { title: d.title, text: d.text } }))),
    search: async (q, k) => (await r.search(q, { k, mode: 'bm25' })).map((h) => ({ id: h.id, score: h.score })),
  };
}

function minisearch(): System {
  const ms = new MiniSearch<{ id: string; title: string; text: string }>({ fields: ['title', 'text'], idField: 'id' });
  return {
    build: (docs) => {
      ms.addAll(docs);
      return Promise.resolve();
    },
    search: (q, k) => Promise.resolve(ms.search(q).slice(0, k).map((h) => ({ id: String(h.id), score: h.score }))),
  };
}

function orama(): System {
  const db = create({ schema: { id: 'string', title: 'string', text: 'string' } as const });
  return {
    build: async (docs) => {
      await insertMultiple(db, docs, 1000);
    },
    search: async (q, k) => {
      const res = await oramaSearch(db, { term: q, properties: ['title', 'text'], limit: k });
      return res.hits.map((h) => ({ id: String(h.document.id), score: h.score }));
    },
  };
}

const SYSTEMS: Record<string, () => System> = { ours, minisearch, orama };

/**
 * BM25 on Cranfield: build throughput (corpus replicated), heap per doc, query latency, nDCG@10 of each
 * system's own BM25 with its defaults (ours: k1 1.2, b 0.75, title + text as BM25F fields).
 */
export const bm25Cranfield: BenchCase = {
  name: 'bm25-cranfield',
  async run(ctx) {
    const data = await cranfield();
    const copies = ctx.quick ? 1 : 4;
    const base = data.corpus.map((d) => ({ id: d.id, title: d.title, text: d.text }));
    const big = Array.from({ length: copies }, (_, c) => base.map((d) => ({ ...d, id: c === 0 ? d.id : `${d.id}#${c}` }))).flat();
    const qids = [...data.qrels.keys()];
    const rounds = ctx.quick ? 1 : 3;
    const build: Record<string, number> = {};
    const mem: Record<string, number> = {};
    const p50: Record<string, number> = {};
    const p99: Record<string, number> = {};
    const ndcg: Record<string, number> = {};
    for (const [name, make] of Object.entries(SYSTEMS)) {
      // build throughput on the replicated corpus
      const before = heapUsed();
      const s = make();
      const t0 = performance.now();
      await s.build(big);
      build[name] = big.length / ((performance.now() - t0) / 1000);
      mem[name] = (heapUsed() - before) / big.length;
      ctx.progress(`${name} built`, 1, 3);
      // quality on the original corpus
      const q = make();
      await q.build(base);
      const run = new Map<string, RunEntry[]>();
      for (const qid of qids) run.set(qid, await q.search(data.queries.get(qid) ?? '', 100));
      ndcg[name] = evaluateRun(run, data.qrels).mean.ndcg10;
      // latency on the replicated index, top 10
      const lat: number[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const qid of qids) {
          const t = performance.now();
          await s.search(data.queries.get(qid) ?? '', 10);
          lat.push(performance.now() - t);
        }
      }
      p50[name] = percentile(lat, 50);
      p99[name] = percentile(lat, 99);
      ctx.progress(`${name} done`, 3, 3);
    }
    const split = (m: Record<string, number>): { ours: number; peers: Record<string, number> } => ({
      ours: m.ours as number,
      peers: { orama: m.orama as number, minisearch: m.minisearch as number },
    });
    const notes = { docs: big.length, queries: qids.length, corpusCopies: copies };
    ctx.report({ metric: 'index build', unit: 'docs/s', higherIsBetter: true, ...split(build), notes: { ...notes, goal: '>= 2x the faster peer' } });
    ctx.report({ metric: 'heap per doc', unit: 'bytes', higherIsBetter: false, ...split(mem), notes });
    ctx.report({ metric: 'bm25 query p50 (top 10)', unit: 'ms', higherIsBetter: false, ...split(p50), notes: { ...notes, goal: '<= 0.5x the peers' } });
    ctx.report({ metric: 'bm25 query p99 (top 10)', unit: 'ms', higherIsBetter: false, ...split(p99), notes });
    ctx.report({ metric: 'nDCG@10 own BM25 (qrels all)', unit: 'nDCG', higherIsBetter: true, ...split(ndcg), notes: { queries: qids.length, goal: 'above both peers' } });
  },
};
