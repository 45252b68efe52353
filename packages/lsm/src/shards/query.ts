import { LsmError } from '../errors.js';

/** Aggregations a step query computes per bucket. */
export type Aggregation = 'sum' | 'count' | 'min' | 'max' | 'avg' | 'last';

/** A query over one metric: tag equality filter, time range, optional step aggregation. */
export interface PointQuery {
  /** Metric name. */
  metric: string;
  /** Tags that must be equal. @defaultValue {} */
  where?: Readonly<Record<string, string>> | undefined;
  /** Start of the range, inclusive, ms. */
  fromMs: number;
  /** End of the range, exclusive, ms. */
  toMs: number;
  /** Bucket width in ms; absent returns raw points. @defaultValue undefined */
  stepMs?: number | undefined;
  /** Aggregation per bucket when `stepMs` is set. @defaultValue 'avg' */
  agg?: Aggregation | undefined;
}

/** One series of a query result: timestamps and values in time order. */
export interface SeriesResult {
  /** The series key (see `seriesKey`). */
  key: string;
  t: Float64Array;
  v: Float64Array;
}

const AGGS = new Set<string>(['sum', 'count', 'min', 'max', 'avg', 'last']);

/** @internal Validates a query at the edge. */
export function checkQuery(q: PointQuery): void {
  if (q == null || typeof q !== 'object') throw new LsmError('LSM_INVALID_ARGUMENT', 'query must be an object');
  if (typeof q.metric !== 'string' || q.metric === '') throw new LsmError('LSM_INVALID_ARGUMENT', 'query.metric must be a non-empty string');
  if (!Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs)) throw new LsmError('LSM_INVALID_ARGUMENT', 'query.fromMs and toMs must be finite numbers');
  if (q.stepMs !== undefined && !(Number.isFinite(q.stepMs) && q.stepMs > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'query.stepMs must be > 0');
  if (q.agg !== undefined && !AGGS.has(q.agg)) throw new LsmError('LSM_INVALID_ARGUMENT', `query.agg must be one of ${[...AGGS].join(', ')}`);
  if (q.where !== undefined && (typeof q.where !== 'object' || q.where === null)) throw new LsmError('LSM_INVALID_ARGUMENT', 'query.where must be an object');
}

/** @internal Aggregates sorted (t, v) pairs into buckets. */
export function aggregate(t: Float64Array, v: Float64Array, step: number, agg: Aggregation): { t: Float64Array; v: Float64Array } {
  const outT: number[] = [];
  const outV: number[] = [];
  let i = 0;
  while (i < t.length) {
    const b = Math.floor(t[i]! / step) * step;
    let sum = 0;
    let n = 0;
    let min = Infinity;
    let max = -Infinity;
    let last = 0;
    while (i < t.length && Math.floor(t[i]! / step) * step === b) {
      const x = v[i]!;
      sum += x;
      n++;
      if (x < min) min = x;
      if (x > max) max = x;
      last = x;
      i++;
    }
    outT.push(b);
    outV.push(agg === 'sum' ? sum : agg === 'count' ? n : agg === 'min' ? min : agg === 'max' ? max : agg === 'last' ? last : sum / n);
  }
  return { t: Float64Array.from(outT), v: Float64Array.from(outV) };
}

/** @internal Merges per-shard results (disjoint series) in key order. */
export function mergeResults(parts: readonly (readonly SeriesResult[])[]): SeriesResult[] {
  const all: SeriesResult[] = [];
  for (const p of parts) for (const r of p) all.push(r);
  return all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
