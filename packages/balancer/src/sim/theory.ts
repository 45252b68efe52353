import { BalancerError } from '../errors.js';
import type { Rng } from '../random/xoshiro.js';

/**
 * Mean time in system of the supermarket model (n → ∞ queues, Poisson arrivals at rate `lambda` per queue, unit
 * exponential service, each arrival joins the shortest of `d` random queues):
 * `T_d(λ) = Σ_{i≥1} λ^((d^i − d)/(d − 1))`; for `d = 1`, `1 / (1 − λ)`.
 *
 * @param d - choices per arrival (>= 1).
 * @param lambda - load in [0, 1).
 * @returns the mean time in system, in service-time units.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` outside the domain.
 * @example
 * ```ts
 * import { supermarketMeanTime } from '@dataplane/balancer';
 *
 * supermarketMeanTime(2, 0.9); // ≈ 2.614
 * ```
 * @since 0.1.0
 */
export function supermarketMeanTime(d: number, lambda: number): number {
  if (!Number.isInteger(d) || d < 1 || !(lambda >= 0 && lambda < 1)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'need an integer d >= 1 and 0 <= lambda < 1');
  }
  if (d === 1) return 1 / (1 - lambda);
  let sum = 0;
  for (let i = 1; i < 64; i++) {
    const term = Math.pow(lambda, (Math.pow(d, i) - d) / (d - 1));
    sum += term;
    if (term < 1e-15) break;
  }
  return sum;
}

/**
 * Throws `balls` balls into `bins` bins, each into the least loaded of `d` bins chosen at random, and returns the
 * maximum load (about ln n / ln ln n for d = 1 and ln ln n / ln d + O(1) for d >= 2 when balls = bins = n).
 *
 * @param bins - number of bins.
 * @param balls - number of balls.
 * @param d - choices per ball.
 * @param rng - the generator.
 * @returns the maximum load of any bin.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on non-positive sizes.
 * @example
 * ```ts
 * import { ballsIntoBinsMaxLoad, createRng } from '@dataplane/balancer';
 *
 * ballsIntoBinsMaxLoad(10_000, 10_000, 2, createRng(1)); // 3 or 4
 * ```
 * @since 0.1.0
 */
export function ballsIntoBinsMaxLoad(bins: number, balls: number, d: number, rng: Rng): number {
  if (!(bins >= 1) || !(balls >= 0) || !(d >= 1)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'need bins >= 1, balls >= 0, d >= 1');
  }
  const load = new Int32Array(bins);
  let max = 0;
  for (let b = 0; b < balls; b++) {
    let best = Math.floor(rng.next() * bins);
    for (let k = 1; k < d; k++) {
      const c = Math.floor(rng.next() * bins);
      if (load[c]! < load[best]!) best = c;
    }
    const l = ++load[best]!;
    if (l > max) max = l;
  }
  return max;
}
