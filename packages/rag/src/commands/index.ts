import { readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createGloveEmbedder } from '../embed/glove-embedder.js';
import { RagError } from '../errors.js';
import type { CliCommand } from '../eval/cli-eval.js';
import { createRetriever } from '../hybrid/retriever.js';
import { createAnswerPipeline } from '../pipeline/answer-pipeline.js';
import type { Generator } from '../answer/types.js';
import type { ChunkFormat } from '../chunking/types.js';

const USAGE = 'rag index <folder> --out <dir> [--max-tokens 200] [--overlap 40] [--embedder glove|none]';
const FORMATS: Record<string, ChunkFormat> = { '.md': 'markdown', '.markdown': 'markdown', '.html': 'html', '.htm': 'html', '.txt': 'text' };

/** The file describing a CLI-built index (next to the retriever files). @internal */
export const INDEX_INFO = 'rag-index.json';

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile() && FORMATS[extname(e.name).toLowerCase()] !== undefined) out.push(p);
  }
}

const noGenerator: Generator = {
  id: 'none',
  generate: () => Promise.reject(new RagError('RAG_INVALID_ARGUMENT', 'no generator while indexing')),
};

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RagError('RAG_INVALID_ARGUMENT', `--${name} must be a non-negative integer, got ${v}`);
  return n;
}

/**
 * The `index` command: chunks a folder of Markdown/HTML/text files into passages and saves a hybrid index.
 *
 * @internal
 */
export const indexCommand: CliCommand = {
  summary: 'index a folder of Markdown/HTML files into passages (BM25 + vectors)',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, 'max-tokens': { type: 'string' }, overlap: { type: 'string' }, embedder: { type: 'string', default: 'glove' }, help: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    const folder = positionals[0];
    if (values.help === true || folder === undefined || values.out === undefined) {
      (values.help === true ? io.out : io.err)(USAGE);
      return values.help === true ? 0 : 2;
    }
    const maxTokens = int(values['max-tokens'], 'max-tokens', 200);
    const overlap = int(values.overlap, 'overlap', Math.min(40, Math.floor(maxTokens / 5)));
    const files: string[] = [];
    try {
      await walk(folder, files);
    } catch (err) {
      throw new RagError('RAG_NOT_FOUND', `cannot read folder ${folder}`, { cause: err });
    }
    files.sort();
    const embedder = values.embedder === 'none' ? undefined : await createGloveEmbedder();
    const retriever = createRetriever({ fields: { title: { boost: 1.5 }, text: {} }, embedder });
    const rag = createAnswerPipeline({ retriever, generator: noGenerator, chunking: { maxTokens, overlapTokens: overlap } });
    let passages = 0;
    for (const [i, f] of files.entries()) {
      const text = await readFile(f, 'utf8');
      const id = relative(folder, f).split('\\').join('/');
      passages += await rag.indexDocuments([{ id, text, format: FORMATS[extname(f).toLowerCase()] }]);
      const line = `indexing ${i + 1}/${files.length} files, ${passages} passages`;
      if (io.tty) io.err(`\r${line}   `);
      else if (i + 1 === files.length || (i + 1) % 100 === 0) io.err(`${line}\n`);
    }
    if (io.tty && files.length > 0) io.err('\n');
    await retriever.save(values.out);
    await writeFile(join(values.out, INDEX_INFO), JSON.stringify({ version: 1, embedder: embedder?.id ?? null, files: files.length, passages, maxTokens, overlap }));
    await retriever.close();
    io.out(`indexed ${files.length} files into ${passages} passages at ${values.out}`);
    return 0;
  },
};
