import { describe, expect, it } from 'vitest';
import {
  ballsIntoBinsMaxLoad,
  createRng,
  resolveScenario,
  simulateRun,
  supermarketMeanTime,
} from '@dataplane/balancer';

// The supermarket model: one client (so its in-flight count is each pod's queue length), unit exponential service,
// one worker per pod. p2c = JSQ(2), random = JSQ(1).
const supermarket = (routing: 'p2c' | 'random', pods: number, load: number, requests: number, seed: number) =>
  simulateRun(
    resolveScenario({
      seed,
      pods,
      clients: 1,
      clientRateSigma: 0,
      serviceMeanMs: 1,
      load,
      requests,
      warmupRequests: Math.floor(requests / 5),
      routings: [routing],
    }),
    routing,
  ).meanMs;

describe('simulator vs theory', () => {
  it('computes the supermarket formula', () => {
    expect(supermarketMeanTime(2, 0.5)).toBeCloseTo(1.2657, 3);
    expect(supermarketMeanTime(2, 0.9)).toBeCloseTo(2.6141, 3);
    expect(supermarketMeanTime(1, 0.5)).toBe(2);
  });

  it('matches T_1 and T_2 at lambda 0.5 with 100 pods within 5%', () => {
    const t1 = supermarket('random', 100, 0.5, 150_000, 11);
    expect(Math.abs(t1 / 2 - 1)).toBeLessThan(0.05);
    const t2 = supermarket('p2c', 100, 0.5, 150_000, 12);
    expect(Math.abs(t2 / supermarketMeanTime(2, 0.5) - 1)).toBeLessThan(0.05);
  });

  it('matches T_2(0.9) = 2.614 with 1000 pods within 5%', () => {
    const t2 = supermarket('p2c', 1000, 0.9, 300_000, 13);
    expect(Math.abs(t2 / supermarketMeanTime(2, 0.9) - 1)).toBeLessThan(0.05);
  });

  it('balls into bins: two choices cut the maximum load from ~ln n/ln ln n to ~ln ln n/ln 2', () => {
    const n = 100_000;
    const one = ballsIntoBinsMaxLoad(n, n, 1, createRng(5));
    const two = ballsIntoBinsMaxLoad(n, n, 2, createRng(6));
    // d = 1: ln n / ln ln n ≈ 4.7 is the leading term; observed maxima are 7-9 at this n
    expect(one).toBeGreaterThanOrEqual(6);
    expect(one).toBeLessThanOrEqual(11);
    // d = 2: ln ln n / ln 2 ≈ 3.5, plus a constant
    expect(two).toBeGreaterThanOrEqual(3);
    expect(two).toBeLessThanOrEqual(5);
  });

  it('is deterministic for a seed', () => {
    const s = resolveScenario({ pods: 10, requests: 3000, clients: 5, routings: ['p2c'] });
    expect(simulateRun(s, 'p2c')).toEqual(simulateRun(s, 'p2c'));
  });
});
