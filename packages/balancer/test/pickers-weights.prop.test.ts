import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEndpointSet, createPicker, createRng, random, slowStartFactor, weighted, zoneRouting } from '@dataplane/balancer';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 100);

describe('weights', () => {
  // With random start offsets in [0, 1/w), endpoint i has n_i(t) picks by virtual time t with |n_i(t) - t*w_i| <= 1,
  // so after k picks (k within m of t*W, m endpoints) |n_i - k*w_i/W| <= 1 + m*w_i/W. A flat bound of 2 is not a
  // theorem: weights [11,1,1,1,1,2,1,2,1,2] reach 2.09 after 27 picks with some offsets.
  it('EDF serves each endpoint within 1 + m*w/W picks of its exact weighted share at every prefix', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }), fc.integer(), (ws, seed) => {
        const set = createEndpointSet();
        set.replaceAll(ws.map((w, i) => ({ id: `e${i}`, address: `h:${i}`, weight: w })));
        const picker = createPicker(set, weighted(), { random: createRng(seed).next });
        const total = ws.reduce((a, b) => a + b, 0);
        const counts = new Array<number>(ws.length).fill(0);
        for (let k = 1; k <= total * 3; k++) {
          counts[Number(picker.pick()!.id.slice(1))]!++;
          for (let i = 0; i < ws.length; i++) expect(Math.abs(counts[i]! - (k * ws[i]!) / total)).toBeLessThanOrEqual(1 + (ws.length * ws[i]!) / total + 1e-9);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('random follows weights within 5 standard deviations', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 2, maxLength: 8 }), fc.integer(), (ws, seed) => {
        const set = createEndpointSet();
        set.replaceAll(ws.map((w, i) => ({ id: `e${i}`, address: `h:${i}`, weight: w })));
        const picker = createPicker(set, random(), { random: createRng(seed).next });
        const n = 4000;
        const total = ws.reduce((a, b) => a + b, 0);
        const counts = new Array<number>(ws.length).fill(0);
        for (let k = 0; k < n; k++) counts[Number(picker.pick()!.id.slice(1))]!++;
        ws.forEach((w, i) => {
          const p = w / total;
          expect(Math.abs(counts[i]! - n * p)).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)) + 1);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('slow-start weight is monotone in time and within [minWeight, 1]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 2, maxLength: 20 }),
        (windowMs, aggression, minWeightPercent, ages) => {
          const sorted = [...ages].sort((a, b) => a - b);
          let prev = 0;
          for (const age of sorted) {
            const f = slowStartFactor(age, { windowMs, aggression, minWeightPercent });
            expect(f).toBeGreaterThanOrEqual(prev);
            expect(f).toBeGreaterThanOrEqual(minWeightPercent / 100 - 1e-12);
            expect(f).toBeLessThanOrEqual(1);
            prev = f;
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('zone-aware keeps all traffic local when the local zone has capacity, spills exactly the excess otherwise', () => {
    const zones = ['a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 4, maxLength: 4 }),
        fc.constantFrom(...zones),
        (up, callers, local) => {
          const upstream = Object.fromEntries(zones.map((z, i) => [z, up[i]!]));
          const caller = Object.fromEntries(zones.map((z, i) => [z, callers[i]!]));
          const r = zoneRouting(upstream, caller, local, 0);
          const sum = Object.values(r.shares).reduce((a, b) => a + b, 0);
          const totalUp = up.reduce((a, b) => a + b, 0);
          if (totalUp === 0) return;
          expect(sum).toBeCloseTo(1, 9);
          for (const [z, s] of Object.entries(r.shares)) if (upstream[z] === 0) expect(s).toBe(0);
          if (upstream[local] === 0) {
            expect(r.mode).toBe('all');
            return;
          }
          const totalCallers = callers.reduce((a, b) => a + b, 0);
          const u = upstream[local]! / totalUp;
          const c = totalCallers > 0 ? caller[local]! / totalCallers : 0;
          if (u >= c) expect(r.shares[local]).toBe(1);
          else expect(r.shares[local]).toBeCloseTo(u / c, 9);
        },
      ),
      { numRuns: NUM_RUNS * 5 },
    );
  });
});
