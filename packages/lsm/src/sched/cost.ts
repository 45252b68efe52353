import { LsmError } from '../errors.js';

/** The shape of a query that decides its cost. */
export interface QueryCostInput {
  /** Number of series the tag filter selects (or an upper bound from the postings lists). */
  series: number;
  /** Start of the time range, inclusive, in ms. */
  fromMs: number;
  /** End of the time range, exclusive, in ms. */
  toMs: number;
  /** Step of the aggregation in ms; `0` or absent means raw points (cost counts one per ms-bucket of 1 s). @defaultValue 1000 */
  stepMs?: number | undefined;
}

/**
 * Estimates the cost of a query as `series x (time range / step)`: the number of output buckets it
 * computes, which tracks the chunks it decodes.
 *
 * @param q - series count, time range and step.
 * @returns a cost >= 1.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for negative or non-finite inputs.
 * @example
 * ```ts
 * import { estimateQueryCost } from '@dataplane/lsm';
 *
 * estimateQueryCost({ series: 100, fromMs: 0, toMs: 3_600_000, stepMs: 60_000 }); // 6000
 * ```
 * @since 0.1.0
 */
export function estimateQueryCost(q: QueryCostInput): number {
  const step = q.stepMs === undefined || q.stepMs === 0 ? 1000 : q.stepMs;
  if (!(q.series >= 0) || !Number.isFinite(q.series) || !Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs) || !(step > 0) || !Number.isFinite(step)) {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'query cost needs finite series >= 0, fromMs, toMs and stepMs > 0');
  }
  const buckets = Math.max(1, Math.ceil(Math.max(0, q.toMs - q.fromMs) / step));
  return Math.max(1, q.series * buckets);
}
