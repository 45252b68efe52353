import { parseArgs } from 'node:util';
import { createGloveEmbedder } from '../embed/glove-embedder.js';
import { createLsaEmbedder } from '../embed/lsa-embedder.js';
import { RagError } from '../errors.js';
import { createRetriever, DEFAULT_FUSION, LSA_FUSION, LSA_TWO_PASS_FUSION } from '../hybrid/retriever.js';
import type { ConvexFusion, DensePrfOptions, FeedbackOptions, Fusion, Rm3Options, ScoreNormalization, SearchOptions } from '../retrieval-types.js';
import { loadBeir } from './beir.js';
import { evaluateRetriever } from './run-eval.js';

/** A CLI command: its one-line help and its handler (returns the exit code). */
export interface CliCommand {
  summary: string;
  usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

/** Output streams of the CLI (injectable for tests). */
export interface CliIo {
  out: (line: string) => void;
  err: (text: string) => void;
  /** Whether progress may be redrawn in place (a TTY). */
  tty: boolean;
}

const USAGE = `rag eval --dataset <dir> [--qrels test|all|train|<file>] [--mode bm25|dense|hybrid]
         [--k1 1.2] [--b 0.75] [--title-boost 1] [--fusion convex|lsa|lsa2|rrf] [--alpha 0.3] [--rrf-k 60]
         [--dense-weight 0.1] [--normalization zscore|minmax|dbsf] [--feedback both|rm3|dense|none]
         [--rm3-docs 5] [--rm3-terms 80] [--rm3-weight 0.6] [--dprf-docs 3] [--dprf-beta 2]
         [--embedder glove|lsa|none] [--lsa-dims 128] [--json]
  --embedder lsa fits the corpus-adapted LSA embedder on the dataset's documents (title + text) first.
  Defaults are the retriever's DEFAULT_FUSION; --fusion lsa starts from LSA_FUSION instead (z-score,
  alpha 0.6, RM3) and makes --embedder default to lsa; --fusion lsa2 from LSA_TWO_PASS_FUSION (a fused
  first pass with word pairs feeds the LSA query, then RM3 0.3 + fed-back LSA 0.7 + word pairs 0.2;
  --alpha sets the second pass's dense weight). --feedback defaults to the fusion's feedback (both
  for DEFAULT_FUSION, rm3 for LSA_FUSION) in hybrid mode and none in bm25/dense modes
  (--mode bm25 --feedback rm3 is BM25+RM3; --mode dense --feedback dense is dense PRF).`;

const FEEDBACK_KINDS = ['both', 'rm3', 'dense', 'none'];
const FUSIONS = ['convex', 'lsa', 'lsa2', 'rrf'];
const EMBEDDERS = ['glove', 'lsa', 'none'];
const NORMALIZATIONS = ['zscore', 'minmax', 'dbsf'];

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RagError('RAG_INVALID_ARGUMENT', `--${name} must be a number, got ${v}`);
  return n;
}

/**
 * The `eval` command: indexes a BEIR folder and prints nDCG@10, Recall@100 and MRR@10.
 *
 * @internal
 */
export const evalCommand: CliCommand = {
  summary: 'evaluate retrieval on a BEIR-format dataset (nDCG@10, Recall@100, MRR@10)',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        qrels: { type: 'string', default: 'test' },
        mode: { type: 'string' },
        k1: { type: 'string' },
        b: { type: 'string' },
        'title-boost': { type: 'string' },
        fusion: { type: 'string', default: 'convex' },
        alpha: { type: 'string' },
        'rrf-k': { type: 'string' },
        'dense-weight': { type: 'string' },
        normalization: { type: 'string' },
        feedback: { type: 'string' },
        'rm3-docs': { type: 'string' },
        'rm3-terms': { type: 'string' },
        'rm3-weight': { type: 'string' },
        'dprf-docs': { type: 'string' },
        'dprf-beta': { type: 'string' },
        embedder: { type: 'string' },
        'lsa-dims': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help === true || values.dataset === undefined) {
      (values.help === true ? io.out : io.err)(USAGE);
      return values.help === true ? 0 : 2;
    }
    if (!FUSIONS.includes(values.fusion)) throw new RagError('RAG_INVALID_ARGUMENT', `--fusion must be one of ${FUSIONS.join(', ')}, got ${values.fusion}`);
    // The fusion whose parameters are the defaults of the flags: LSA_FUSION for --fusion lsa, else DEFAULT_FUSION.
    const base = (values.fusion === 'lsa' ? LSA_FUSION : values.fusion === 'lsa2' ? LSA_TWO_PASS_FUSION : DEFAULT_FUSION) as ConvexFusion;
    const embedderName = values.embedder ?? (values.fusion === 'lsa' || values.fusion === 'lsa2' ? 'lsa' : 'glove');
    if (!EMBEDDERS.includes(embedderName)) throw new RagError('RAG_INVALID_ARGUMENT', `--embedder must be one of ${EMBEDDERS.join(', ')}, got ${embedderName}`);
    const data = await loadBeir(values.dataset, values.qrels);
    const embedder =
      embedderName === 'none'
        ? undefined
        : embedderName === 'lsa'
          ? await createLsaEmbedder({ corpus: data.corpus.map((d) => [d.title, d.text].filter((t) => t !== '').join('\n')), dimensions: num(values['lsa-dims'], 'lsa-dims') })
          : await createGloveEmbedder();
    const mode = (values.mode ?? (embedder === undefined ? 'bm25' : 'hybrid')) as SearchOptions['mode'];
    const baseFb = base.feedback === false || base.feedback === undefined ? {} : base.feedback;
    const baseKind = baseFb.rm3 ? (baseFb.dense ? 'both' : 'rm3') : baseFb.dense ? 'dense' : 'none';
    const fb = values.feedback ?? (mode === 'hybrid' ? baseKind : 'none');
    if (!FEEDBACK_KINDS.includes(fb)) throw new RagError('RAG_INVALID_ARGUMENT', `--feedback must be one of ${FEEDBACK_KINDS.join(', ')}, got ${fb}`);
    const norm = values.normalization ?? base.normalization;
    if (norm === undefined || !NORMALIZATIONS.includes(norm)) {
      throw new RagError('RAG_INVALID_ARGUMENT', `--normalization must be one of ${NORMALIZATIONS.join(', ')}, got ${String(norm)}`);
    }
    // Feedback parameters: the base fusion's where it has them, else DEFAULT_FUSION's.
    const defaultFb = DEFAULT_FUSION.feedback as { rm3: Required<Rm3Options>; dense: Required<DensePrfOptions> };
    const defaults = { rm3: { ...defaultFb.rm3, ...(baseFb.rm3 === false ? {} : baseFb.rm3) }, dense: { ...defaultFb.dense, ...(baseFb.dense === false ? {} : baseFb.dense) } };
    const feedback: FeedbackOptions = {
      rm3:
        fb === 'both' || fb === 'rm3'
          ? {
              docs: num(values['rm3-docs'], 'rm3-docs') ?? defaults.rm3.docs,
              terms: num(values['rm3-terms'], 'rm3-terms') ?? defaults.rm3.terms,
              originalWeight: num(values['rm3-weight'], 'rm3-weight') ?? defaults.rm3.originalWeight,
            }
          : false,
      dense:
        fb === 'both' || fb === 'dense'
          ? { docs: num(values['dprf-docs'], 'dprf-docs') ?? defaults.dense.docs, beta: num(values['dprf-beta'], 'dprf-beta') ?? defaults.dense.beta }
          : false,
    };
    const fusion: Fusion =
      values.fusion === 'rrf'
        ? { kind: 'rrf', k: num(values['rrf-k'], 'rrf-k') ?? 60, weights: { bm25: 1, dense: num(values['dense-weight'], 'dense-weight') ?? 0.1 }, feedback }
        : {
            kind: 'convex',
            alpha: num(values.alpha, 'alpha') ?? base.alpha,
            normalization: norm as ScoreNormalization,
            feedback,
            ...(base.pairs === undefined ? {} : { pairs: base.pairs }),
            ...(base.firstPass === undefined ? {} : { firstPass: base.firstPass }),
          };
    const retriever = createRetriever({
      fields: { title: { boost: num(values['title-boost'], 'title-boost') ?? 1 }, text: {} },
      k1: num(values.k1, 'k1'),
      b: num(values.b, 'b'),
      embedder,
      fusion,
    });
    const started = performance.now();
    const res = await evaluateRetriever(retriever, data, {
      search: { mode, feedback },
      onProgress: (p) => {
        const line = `${p.phase === 'index' ? 'indexing' : 'querying'} ${p.done}/${p.total}`;
        if (io.tty) io.err(`\r${line}   `);
        else if (p.done === p.total) io.err(`${line}\n`);
      },
    });
    if (io.tty) io.err('\n');
    const seconds = (performance.now() - started) / 1000;
    await retriever.close();
    if (values.json === true) {
      io.out(JSON.stringify({ dataset: values.dataset, qrels: values.qrels, mode, fusion: mode === 'hybrid' ? fusion : undefined, feedback: fb, embedder: embedder?.id, queries: res.queries, ...res.mean, seconds }));
    } else {
      io.out(`dataset ${values.dataset} (qrels ${values.qrels}, ${res.queries} judged queries, ${data.corpus.length} docs), mode ${String(mode)}, feedback ${fb}`);
      io.out(`nDCG@10    ${res.mean.ndcg10.toFixed(4)}`);
      io.out(`Recall@100 ${res.mean.recall100.toFixed(4)}`);
      io.out(`MRR@10     ${res.mean.mrr10.toFixed(4)}`);
      io.out(`(${seconds.toFixed(1)} s)`);
    }
    return 0;
  },
};
