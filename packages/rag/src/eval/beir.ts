import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RagError } from '../errors.js';
import type { Qrels } from './metrics.js';

/** A BEIR document. */
export interface BeirDoc {
  id: string;
  title: string;
  text: string;
  metadata: Record<string, string | number | boolean>;
}

/** A BEIR-format dataset in memory. */
export interface BeirDataset {
  corpus: BeirDoc[];
  queries: Map<string, string>;
  qrels: Qrels;
}

async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RagError('RAG_DATASET_INVALID', `cannot read ${path}`, { cause: err });
  }
  const out: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch (err) {
      throw new RagError('RAG_DATASET_INVALID', `${path}:${i + 1}: invalid JSON`, { cause: err });
    }
  });
  return out;
}

/**
 * Loads a BEIR-format folder: `corpus.jsonl` (`_id`, `title`, `text`, `metadata`), `queries.jsonl`
 * (`_id`, `text`) and `qrels/<split>.tsv` (header `query-id corpus-id score`).
 *
 * @param dir - the dataset folder.
 * @param split - the qrels file name without `.tsv` (`test`, `all`, `train`...) or a path ending in `.tsv`. @defaultValue `'test'`
 * @returns the dataset.
 * @throws RagError `RAG_DATASET_INVALID` when a file is missing or malformed.
 * @example
 * ```ts
 * import { loadBeir } from '@dataplane/rag';
 *
 * const data = await loadBeir('../shared/data/cranfield', 'all');
 * ```
 * @since 0.1.0
 */
export async function loadBeir(dir: string, split = 'test'): Promise<BeirDataset> {
  const corpus: BeirDoc[] = (await readJsonl(join(dir, 'corpus.jsonl'))).map((r, i) => {
    if (typeof r._id !== 'string' && typeof r._id !== 'number') throw new RagError('RAG_DATASET_INVALID', `corpus line ${i + 1}: missing _id`);
    const meta = (typeof r.metadata === 'object' && r.metadata !== null ? r.metadata : {}) as Record<string, unknown>;
    const metadata: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(meta)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata[k] = v;
    return { id: String(r._id), title: typeof r.title === 'string' ? r.title : '', text: typeof r.text === 'string' ? r.text : '', metadata };
  });
  const queries = new Map<string, string>();
  for (const r of await readJsonl(join(dir, 'queries.jsonl'))) {
    if ((typeof r._id === 'string' || typeof r._id === 'number') && typeof r.text === 'string') queries.set(String(r._id), r.text);
  }
  const qpath = split.endsWith('.tsv') && existsSync(split) ? split : join(dir, 'qrels', `${split}.tsv`);
  let tsv: string;
  try {
    tsv = await readFile(qpath, 'utf8');
  } catch (err) {
    throw new RagError('RAG_DATASET_INVALID', `cannot read qrels ${qpath}`, { cause: err });
  }
  const qrels: Qrels = new Map();
  tsv.split('\n').forEach((line, i) => {
    const cols = line.trim().split('\t');
    if (cols.length < 3 || (i === 0 && cols[0] === 'query-id')) return;
    const [q, d, s] = cols as [string, string, string];
    const g = Number(s);
    if (!Number.isFinite(g)) throw new RagError('RAG_DATASET_INVALID', `${qpath}:${i + 1}: score is not a number`);
    let m = qrels.get(q);
    if (m === undefined) qrels.set(q, (m = new Map()));
    m.set(d, g);
  });
  if (corpus.length === 0) throw new RagError('RAG_DATASET_INVALID', `${dir}: empty corpus`);
  return { corpus, queries, qrels };
}
