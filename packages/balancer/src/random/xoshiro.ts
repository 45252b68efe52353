import { BalancerError } from '../errors.js';

/**
 * A seedable pseudo-random generator: xoshiro128** (Blackman and Vigna) seeded through splitmix32.
 *
 * @since 0.1.0
 */
export interface Rng {
  /** A uniform float in [0, 1) with 53 bits of randomness. */
  next(): number;
  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** An exponentially distributed number with the given mean. */
  exponential(mean: number): number;
}

/**
 * Creates a seeded xoshiro128** generator. The same seed always gives the same sequence.
 *
 * @param seed - any finite number (its 32-bit integer part seeds splitmix32).
 * @returns the generator.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` when the seed is not a finite number.
 * @example
 * ```ts
 * import { createRng } from '@dataplane/balancer';
 *
 * const rng = createRng(42);
 * const u = rng.next(); // in [0, 1)
 * ```
 * @since 0.1.0
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'seed must be a finite number');
  }
  let sm = Math.trunc(seed) >>> 0;
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) >>> 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  if ((a | b | c | d) === 0) a = 1;
  const nextUint32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  const next = (): number => (nextUint32() * 2 ** 21 + (nextUint32() >>> 11)) / 2 ** 53;
  return {
    next,
    nextUint32,
    exponential(mean: number): number {
      return -Math.log(1 - next()) * mean;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
