import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getAnalyzer } from '../analysis/analyzer.js';
import { RagError } from '../errors.js';
import { HybridRetriever } from '../hybrid/retriever.js';
import type { SparseSnapshot } from '../sparse/bm25-index.js';
import type { Analyzer, Doc, Embedder, FieldConfig, Fusion, Retriever } from '../retrieval-types.js';
import { FORMAT_VERSION, type Manifest } from './save.js';

/** Options of {@link loadRetriever}. */
export interface LoadRetrieverOptions {
  /** The embedder (must have the id the index was built with). */
  embedder?: Embedder | undefined;
  /** Custom analyzers by name, for fields that were indexed with one. */
  analyzers?: Record<string, Analyzer> | undefined;
  /** Aborts the load. */
  signal?: AbortSignal | undefined;
}

async function bin(dir: string, name: string): Promise<Uint8Array> {
  const b = await readFile(join(dir, name));
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Loads a retriever written by {@link Retriever.save}: the postings and the HNSW graph are restored as they
 * were (no re-indexing, no re-embedding).
 *
 * @param dir - the folder given to `save`.
 * @param options - see {@link LoadRetrieverOptions}.
 * @returns the retriever.
 * @throws RagError `RAG_CORRUPT_INDEX` when files are missing or inconsistent; `RAG_INVALID_ARGUMENT` when
 * the embedder id differs from the one the index was built with or a custom analyzer is missing.
 * @example
 * ```ts
 * import { createRetriever, loadRetriever } from '@dataplane/rag';
 *
 * const r = createRetriever({ fields: { text: {} } });
 * await r.add({ id: 'a', fields: { text: 'hello' } });
 * await r.save('./index');
 * const again = await loadRetriever('./index');
 * ```
 * @since 0.1.0
 */
export async function loadRetriever(dir: string, options: LoadRetrieverOptions = {}): Promise<Retriever> {
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (err) {
    throw new RagError('RAG_CORRUPT_INDEX', `cannot read ${join(dir, 'manifest.json')}`, { cause: err });
  }
  if (m.format !== FORMAT_VERSION) throw new RagError('RAG_CORRUPT_INDEX', `unsupported index format ${String(m.format)}`);
  if (m.embedderId !== undefined && options.embedder !== undefined && options.embedder.id !== m.embedderId) {
    throw new RagError('RAG_INVALID_ARGUMENT', `the index was built with embedder ${m.embedderId}, got ${options.embedder.id}`);
  }
  const fields: Record<string, FieldConfig> = {};
  for (const f of m.fields) {
    let analyzer: Analyzer | string = f.analyzer;
    const custom = options.analyzers?.[f.analyzer];
    if (custom !== undefined) analyzer = custom;
    else getAnalyzer(f.analyzer); // throws for an unknown custom analyzer
    fields[f.name] = { boost: f.boost, b: f.b, analyzer };
  }
  const r = new HybridRetriever({
    fields,
    k1: m.k1,
    b: m.b,
    embedder: options.embedder,
    dimensions: m.hnsw?.dimensions,
    hnsw: m.hnsw,
    fusion: m.fusion as Fusion | undefined,
  });
  try {
    const sp = m.sparse as unknown as Omit<SparseSnapshot, 'bytes' | 'live' | 'lens'>;
    const lens = await bin(dir, 'sparse-lens.bin');
    r.sparse.restore({
      terms: sp.terms,
      offsets: sp.offsets,
      counts: sp.counts,
      lasts: sp.lasts,
      dfs: sp.dfs,
      nextDoc: sp.nextDoc,
      liveCount: sp.liveCount,
      compactedDead: sp.compactedDead,
      lenSum: sp.lenSum,
      bytes: await bin(dir, 'sparse-postings.bin'),
      live: await bin(dir, 'sparse-live.bin'),
      lens: new Float32Array(lens.buffer),
    });
    if (m.hnswState !== undefined && r.hnsw !== undefined) {
      const hs = m.hnswState as { count: number; liveCount: number; entry: number; maxLevel: number; rng: number };
      r.hnsw.restore({
        ...hs,
        vectors: new Float32Array((await bin(dir, 'hnsw-vectors.bin')).buffer),
        levels: new Int8Array((await bin(dir, 'hnsw-levels.bin')).buffer),
        links0: new Int32Array((await bin(dir, 'hnsw-links0.bin')).buffer),
        deleted: await bin(dir, 'hnsw-deleted.bin'),
        upperLens: new Int32Array((await bin(dir, 'hnsw-upper-lens.bin')).buffer),
        upper: new Int32Array((await bin(dir, 'hnsw-upper.bin')).buffer),
      });
    }
    r.idByNum = m.idByNum.map((x) => x ?? undefined);
    r.idByNode = m.idByNode.map((x) => x ?? undefined);
    const text = await readFile(join(dir, 'docs.jsonl'), 'utf8');
    const all = r.hnsw?.snapshot().vectors;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const d = JSON.parse(line) as Doc & { num: number; node: number };
      const doc: Doc = { id: d.id, fields: d.fields };
      if (d.meta !== undefined) doc.meta = d.meta;
      if (d.node >= 0 && r.hnsw !== undefined && all !== undefined) {
        const dim = r.hnsw.dimensions;
        doc.vector = all.slice(d.node * dim, (d.node + 1) * dim);
      }
      r.entries.set(d.id, { doc, num: d.num, node: d.node });
    }
  } catch (err) {
    if (RagError.is(err)) throw err;
    throw new RagError('RAG_CORRUPT_INDEX', `cannot load the index in ${dir}`, { cause: err });
  }
  if (r.entries.size !== r.sparse.size) throw new RagError('RAG_CORRUPT_INDEX', 'documents and postings disagree');
  return r;
}
