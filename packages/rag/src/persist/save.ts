import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RagError } from '../errors.js';
import type { HybridRetriever } from '../hybrid/retriever.js';

/** Format version of saved indexes. */
export const FORMAT_VERSION = 1;

/** @internal */
export interface Manifest {
  format: number;
  k1: number;
  b: number | undefined;
  fields: { name: string; boost: number; b: number; analyzer: string }[];
  hnsw: { M: number; efConstruction: number; efSearch: number; exactBelow: number; dimensions: number } | undefined;
  fusion: unknown;
  embedderId: string | undefined;
  sparse: Record<string, unknown>;
  hnswState: Record<string, number> | undefined;
  idByNum: (string | null)[];
  idByNode: (string | null)[];
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/**
 * Writes both indexes and the documents to `dir`: `manifest.json` (written last), `docs.jsonl`, and the
 * typed arrays of the postings and of the HNSW graph as little-endian binary files.
 *
 * @internal
 */
export async function saveRetriever(r: HybridRetriever, dir: string, opts: { signal?: AbortSignal | undefined }): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new RagError('RAG_INVALID_ARGUMENT', 'dir must be a non-empty string');
  // Snapshot synchronously (a consistent view), then write.
  const s = r.sparse.snapshot();
  const h = r.hnsw?.snapshot();
  const docs = [...r.entries.values()].map((e) => JSON.stringify({ id: e.doc.id, fields: e.doc.fields, meta: e.doc.meta, num: e.num, node: e.node }));
  const manifest: Manifest = {
    format: FORMAT_VERSION,
    k1: r.sparse.k1,
    b: r.options.b,
    fields: r.sparse.fields.map((f) => ({ name: f.name, boost: f.boost, b: f.b, analyzer: f.analyzer.name })),
    hnsw:
      r.hnsw === undefined
        ? undefined
        : { M: r.hnsw.M, efConstruction: r.hnsw.efConstruction, efSearch: r.hnsw.efSearch, exactBelow: r.hnsw.exactBelow, dimensions: r.hnsw.dimensions },
    fusion: r.options.fusion,
    embedderId: r.embedder?.id,
    sparse: {
      terms: s.terms,
      offsets: s.offsets,
      counts: s.counts,
      lasts: s.lasts,
      dfs: s.dfs,
      nextDoc: s.nextDoc,
      liveCount: s.liveCount,
      compactedDead: s.compactedDead,
      lenSum: s.lenSum,
    },
    hnswState: h === undefined ? undefined : { count: h.count, liveCount: h.liveCount, entry: h.entry, maxLevel: h.maxLevel, rng: h.rng },
    idByNum: r.idByNum.map((x) => x ?? null),
    idByNode: r.idByNode.map((x) => x ?? null),
  };
  await mkdir(dir, { recursive: true });
  const files: [string, Uint8Array | string][] = [
    ['docs.jsonl', docs.join('\n')],
    ['sparse-postings.bin', s.bytes],
    ['sparse-live.bin', s.live],
    ['sparse-lens.bin', bytes(s.lens)],
  ];
  if (h !== undefined) {
    files.push(
      ['hnsw-vectors.bin', bytes(h.vectors)],
      ['hnsw-levels.bin', bytes(h.levels)],
      ['hnsw-links0.bin', bytes(h.links0)],
      ['hnsw-deleted.bin', h.deleted],
      ['hnsw-upper-lens.bin', bytes(h.upperLens)],
      ['hnsw-upper.bin', bytes(h.upper)],
    );
  }
  for (const [name, data] of files) {
    if (opts.signal?.aborted === true) throw new RagError('RAG_ABORTED', 'save aborted', { cause: opts.signal.reason });
    await writeAtomic(join(dir, name), data);
  }
  await writeAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest));
}
