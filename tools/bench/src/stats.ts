/** Small, allocation-light statistics used by every benchmark. */

/**
 * Percentile by the nearest-rank method on a copy of `samples` (p in 0..100).
 * Returns NaN for an empty sample.
 */
export function percentile(samples: ArrayLike<number>, p: number): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank]!;
}

/** Arithmetic mean; NaN for an empty sample. */
export function mean(samples: ArrayLike<number>): number {
  if (samples.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < samples.length; i++) s += samples[i]!;
  return s / samples.length;
}

/** Rounds to `digits` significant digits so JSON lines stay readable. */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}
