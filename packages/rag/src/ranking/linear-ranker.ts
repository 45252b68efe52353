import { readFile, writeFile } from 'node:fs/promises';
import { RagError } from '../errors.js';

/** One judged query for training: feature vectors of its candidates and their graded labels. */
export interface TrainingQuery {
  features: readonly Float64Array[];
  labels: readonly number[];
}

/** Options of {@link trainRanker}. */
export interface TrainOptions {
  /** Feature names (persisted). */
  featureNames: readonly string[];
  /** Passes over the pairs. @defaultValue 30 */
  epochs?: number | undefined;
  /** SGD learning rate. @defaultValue 0.05 */
  learningRate?: number | undefined;
  /** L2 regularisation. @defaultValue 0.0001 */
  l2?: number | undefined;
  /** Seed of the deterministic pair shuffling. @defaultValue 42 */
  seed?: number | undefined;
  /** Maximum pairs sampled per query per epoch. @defaultValue 200 */
  pairsPerQuery?: number | undefined;
}

/** The persisted form of a {@link LinearRanker}. */
export interface LinearRankerJson {
  kind: 'pairwise-logistic';
  version: 1;
  featureNames: string[];
  weights: number[];
  mean: number[];
  std: number[];
}

/**
 * A linear ranker over standardised features (trained pairwise-logistic, RankNet-style).
 *
 * @since 0.1.0
 */
export class LinearRanker {
  readonly featureNames: readonly string[];
  readonly weights: Float64Array;
  readonly mean: Float64Array;
  readonly std: Float64Array;

  constructor(json: LinearRankerJson) {
    const n = json.featureNames.length;
    if (json.kind !== 'pairwise-logistic' || json.weights.length !== n || json.mean.length !== n || json.std.length !== n) {
      throw new RagError('RAG_CORRUPT_INDEX', 'invalid ranker model');
    }
    if (![...json.weights, ...json.mean, ...json.std].every(Number.isFinite)) throw new RagError('RAG_CORRUPT_INDEX', 'ranker model has non-finite numbers');
    this.featureNames = [...json.featureNames];
    this.weights = Float64Array.from(json.weights);
    this.mean = Float64Array.from(json.mean);
    this.std = Float64Array.from(json.std);
  }

  /**
   * Scores one feature vector.
   *
   * @param x - features in {@link LinearRanker.featureNames} order.
   * @returns the score (higher ranks first).
   */
  score(x: Float64Array): number {
    let s = 0;
    for (let i = 0; i < this.weights.length; i++) s += (this.weights[i] as number) * (((x[i] ?? 0) - (this.mean[i] as number)) / (this.std[i] as number));
    return s;
  }

  /** The JSON form. */
  toJSON(): LinearRankerJson {
    return { kind: 'pairwise-logistic', version: 1, featureNames: [...this.featureNames], weights: [...this.weights], mean: [...this.mean], std: [...this.std] };
  }

  /**
   * Saves the model as JSON.
   *
   * @param path - file path.
   */
  async save(path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.toJSON()));
  }

  /**
   * Loads a model saved by {@link LinearRanker.save}.
   *
   * @param path - file path.
   * @returns the ranker.
   * @throws RagError `RAG_NOT_FOUND` when unreadable, `RAG_CORRUPT_INDEX` when invalid.
   * @example
   * ```ts
   * import { LinearRanker } from '@dataplane/rag';
   *
   * const ranker = await LinearRanker.load('ranker.json');
   * ```
   */
  static async load(path: string): Promise<LinearRanker> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new RagError('RAG_NOT_FOUND', `cannot read ranker ${path}`, { cause: err });
    }
    try {
      return new LinearRanker(JSON.parse(text) as LinearRankerJson);
    } catch (err) {
      if (RagError.is(err)) throw err;
      throw new RagError('RAG_CORRUPT_INDEX', `ranker ${path} is not valid JSON`, { cause: err });
    }
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Trains a pairwise logistic ranker: for every query, pairs (better, worse) of candidates with different
 * labels; SGD on `log(1 + exp(-(s_better - s_worse)))` with L2, over standardised features. Deterministic
 * for a given seed and input.
 *
 * @param queries - judged candidate lists.
 * @param options - feature names and hyper-parameters.
 * @returns the trained ranker.
 * @throws RagError `RAG_INVALID_ARGUMENT` when vectors disagree with `featureNames` or no pair exists.
 * @example
 * ```ts
 * import { trainRanker } from '@dataplane/rag';
 *
 * const ranker = trainRanker([{ features: [Float64Array.of(1), Float64Array.of(0)], labels: [1, 0] }], { featureNames: ['x'] });
 * ranker.score(Float64Array.of(1)) > ranker.score(Float64Array.of(0)); // true
 * ```
 * @since 0.1.0
 */
export function trainRanker(queries: readonly TrainingQuery[], options: TrainOptions): LinearRanker {
  const n = options.featureNames.length;
  const epochs = options.epochs ?? 30;
  const lr0 = options.learningRate ?? 0.05;
  const l2 = options.l2 ?? 1e-4;
  const perQuery = options.pairsPerQuery ?? 200;
  const rand = mulberry32(options.seed ?? 42);
  const mean = new Float64Array(n);
  const sq = new Float64Array(n);
  let count = 0;
  for (const q of queries) {
    if (q.features.length !== q.labels.length) throw new RagError('RAG_INVALID_ARGUMENT', 'features and labels differ in length');
    for (const x of q.features) {
      if (x.length !== n) throw new RagError('RAG_INVALID_ARGUMENT', `feature vector has ${x.length} values, expected ${n}`);
      for (let i = 0; i < n; i++) mean[i] = (mean[i] as number) + (x[i] as number);
      count++;
    }
  }
  if (count === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'no training data');
  for (let i = 0; i < n; i++) mean[i] = (mean[i] as number) / count;
  for (const q of queries) for (const x of q.features) for (let i = 0; i < n; i++) sq[i] = (sq[i] as number) + ((x[i] as number) - (mean[i] as number)) ** 2;
  const std = sq.map((s) => Math.sqrt(s / count) || 1);
  const z = queries.map((q) => q.features.map((x) => x.map((v, i) => (v - (mean[i] as number)) / (std[i] as number))));
  const pairs: [number, number, number][] = [];
  queries.forEach((q, qi) => {
    for (let a = 0; a < q.labels.length; a++) for (let b = 0; b < q.labels.length; b++) if ((q.labels[a] as number) > (q.labels[b] as number)) pairs.push([qi, a, b]);
  });
  if (pairs.length === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'training data has no pair with different labels');
  const byQuery = new Map<number, [number, number, number][]>();
  for (const p of pairs) {
    const list = byQuery.get(p[0]) ?? [];
    list.push(p);
    byQuery.set(p[0], list);
  }
  const w = new Float64Array(n);
  for (let e = 0; e < epochs; e++) {
    const lr = lr0 / (1 + e * 0.1);
    const epochPairs: [number, number, number][] = [];
    for (const list of byQuery.values()) {
      for (let k = 0; k < Math.min(perQuery, list.length); k++) epochPairs.push(list[Math.floor(rand() * list.length)] as [number, number, number]);
    }
    for (let i = epochPairs.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = epochPairs[i] as [number, number, number];
      epochPairs[i] = epochPairs[j] as [number, number, number];
      epochPairs[j] = t;
    }
    for (const [qi, a, b] of epochPairs) {
      const xa = (z[qi] as Float64Array[])[a] as Float64Array;
      const xb = (z[qi] as Float64Array[])[b] as Float64Array;
      let d = 0;
      for (let i = 0; i < n; i++) d += (w[i] as number) * ((xa[i] as number) - (xb[i] as number));
      const g = 1 / (1 + Math.exp(d));
      for (let i = 0; i < n; i++) w[i] = (w[i] as number) + lr * (g * ((xa[i] as number) - (xb[i] as number)) - l2 * (w[i] as number));
    }
  }
  return new LinearRanker({ kind: 'pairwise-logistic', version: 1, featureNames: [...options.featureNames], weights: [...w], mean: [...mean], std: [...std] });
}
