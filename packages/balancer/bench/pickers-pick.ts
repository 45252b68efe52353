import type { BenchCase } from '@dataplane/bench';
import {
  createEndpointSet,
  createPicker,
  createRng,
  outlierAware,
  p2c,
  random,
  roundRobin,
  slowStart,
  weighted,
  zoneAware,
} from '@dataplane/balancer';
import type { PickerFactory } from '@dataplane/balancer';

const PICKERS: Record<string, () => PickerFactory> = {
  roundRobin: () => roundRobin(),
  random: () => random(),
  p2c: () => p2c(),
  'p2c(peak-ewma)': () => p2c({ load: 'peak-ewma' }),
  'weighted(EDF)': () => weighted(),
  'zoneAware(p2c)': () => zoneAware(p2c(), { localZone: 'z0' }),
  'slowStart(weighted)': () => slowStart(weighted(), { windowMs: 60_000 }),
  'outlierAware(p2c)': () => outlierAware(p2c()),
};

/** Median ns per call of `fn` over `blocks` blocks of `perBlock` calls. */
function nsPerCall(fn: () => unknown, perBlock: number, blocks: number): number {
  for (let i = 0; i < perBlock; i++) fn(); // warm-up
  const samples: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perBlock; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / perBlock);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** ns per pick of every picker at 10 to 10,000 endpoints, against a plain array round robin as the floor. */
export const pickersPick: BenchCase = {
  name: 'pickers-ns-per-pick',
  run(ctx) {
    const sizes = [10, 100, 1000, 10_000];
    const perBlock = ctx.quick ? 20_000 : 200_000;
    const blocks = ctx.quick ? 5 : 15;
    const total = sizes.length * Object.keys(PICKERS).length;
    let done = 0;
    for (const n of sizes) {
      const rng = createRng(n);
      const set = createEndpointSet();
      set.replaceAll(
        Array.from({ length: n }, (_, i) => ({
          id: `e${i}`,
          address: `10.0.${i >> 8}.${i & 255}:80`,
          zone: `z${i % 3}`,
          addedAt: i % 10 === 0 ? Date.now() : 0, // a tenth of the endpoints are in slow start
        })),
      );
      // some load so that p2c compares real numbers
      for (let i = 0; i < n; i++) {
        if (rng.next() < 0.5) set.onStart(`e${i}`);
        set.onEnd(`e${i}`, 1 + rng.next() * 10, true);
      }
      const arr = set.list();
      let k = 0;
      const floorNs = nsPerCall(() => arr[k++ % n], perBlock, blocks);
      for (const [name, make] of Object.entries(PICKERS)) {
        const picker = createPicker(set, make(), { random: createRng(1).next });
        const ns = nsPerCall(() => picker.pick(), perBlock, blocks);
        picker.close();
        ctx.report({
          case: `pick ${name} n=${n}`,
          metric: 'pick latency',
          unit: 'ns/pick',
          higherIsBetter: false,
          ours: ns,
          peers: { 'array round robin (floor)': floorNs },
          notes: { endpoints: n, goal: name === 'p2c' && n === 1000 ? 'p2c < 100 ns at 1k endpoints' : '' },
        });
        ctx.progress(`${name} n=${n}`, ++done, total);
      }
    }
  },
};
