import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createExtractiveGenerator } from '../answer/extractive-generator.js';
import { createOpenAiGenerator } from '../answer/openai-generator.js';
import { createGloveEmbedder } from '../embed/glove-embedder.js';
import { RagError } from '../errors.js';
import type { CliCommand } from '../eval/cli-eval.js';
import { loadRetriever } from '../persist/load.js';
import { createAnswerPipeline } from '../pipeline/answer-pipeline.js';
import { INDEX_INFO } from './index.js';

const USAGE = `rag ask --index <dir> "question" [--k 5] [--base-url URL --model NAME] [--flag] [--json]
  Without --model the answer is extractive (offline). The API key is read from OPENAI_API_KEY.`;

/**
 * The `ask` command: answers a question from an index built by `rag index`, with cited sources.
 *
 * @internal
 */
export const askCommand: CliCommand = {
  summary: 'answer a question from an index, with verified [n] citations',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        index: { type: 'string' },
        k: { type: 'string', default: '5' },
        'base-url': { type: 'string' },
        model: { type: 'string' },
        flag: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    const question = positionals.join(' ').trim();
    if (values.help === true || values.index === undefined || question === '') {
      (values.help === true ? io.out : io.err)(USAGE);
      return values.help === true ? 0 : 2;
    }
    const k = Number(values.k);
    if (!Number.isInteger(k) || k < 1) throw new RagError('RAG_INVALID_ARGUMENT', `--k must be an integer >= 1, got ${values.k}`);
    let info: { embedder?: string | null };
    try {
      info = JSON.parse(await readFile(join(values.index, INDEX_INFO), 'utf8')) as { embedder?: string | null };
    } catch (err) {
      throw new RagError('RAG_NOT_FOUND', `${values.index} is not an index built by "rag index" (missing ${INDEX_INFO})`, { cause: err });
    }
    const embedder = typeof info.embedder === 'string' ? await createGloveEmbedder() : undefined;
    const retriever = await loadRetriever(values.index, { embedder });
    const generator =
      values.model !== undefined
        ? createOpenAiGenerator({ model: values.model, baseUrl: values['base-url'], apiKey: process.env.OPENAI_API_KEY })
        : createExtractiveGenerator();
    const rag = createAnswerPipeline({ retriever, generator, embedder, k, unsupported: values.flag === true ? 'flag' : 'drop' });
    try {
      const res = await rag.ask(question);
      if (values.json === true) {
        io.out(JSON.stringify({ answer: res.answer, sentences: res.sentences, sources: res.sources, usage: res.usage, model: res.model, query: res.query }));
        return 0;
      }
      io.out(res.answer);
      io.out('');
      for (const s of res.sources) {
        io.out(`[${s.n}] ${s.docId}${s.title !== '' ? ` — ${s.title}` : ''}${s.start !== undefined ? ` (chars ${s.start}-${String(s.end)})` : ''}`);
        for (const sn of s.snippets) io.out(`    ${sn.marked}`);
      }
      return 0;
    } finally {
      await retriever.close();
    }
  },
};
