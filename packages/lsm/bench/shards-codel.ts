/**
 * Light-query p99 under a heavy-query burst, on one real shard worker: CoDel (deprioritise) against the
 * same shard with a FIFO queue (mode 'off'). Heavy = every series over the whole range, raw; light = one
 * series over 10 s. Lights arrive every 2 ms while 40 heavy queries are queued at once.
 */
import { encodePoints, openShardedTsdb, type Point } from '@dataplane/lsm';
import { percentile as pct, type BenchCase, type BenchContext } from '@dataplane/bench';


async function burst(ctx: BenchContext, mode: 'deprioritise' | 'off', batches: Uint8Array[], points: number, heavyN: number, lightN: number) {
  await using db = await openShardedTsdb({ dir: ctx.tmpDir('codel-'), shards: 1, scheduler: { mode, targetMs: 5, intervalMs: 50, heavyCost: 50_000 } });
  await db.writeBatch(batches);
  const heavy: Promise<unknown>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < heavyN; i++) heavy.push(db.query({ metric: 'cpu', fromMs: 0, toMs: points }));
  const light: number[] = [];
  const lights: Promise<void>[] = [];
  for (let i = 0; i < lightN; i++) {
    const host = `h${i % 500}`;
    const s = performance.now();
    lights.push(db.query({ metric: 'cpu', where: { host }, fromMs: 0, toMs: 10_000 }).then(() => void light.push(performance.now() - s)));
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(lights);
  await Promise.all(heavy);
  const total = performance.now() - t0;
  const st = db.stats().schedulers[0]!;
  return { p99: pct(light, 99), p50: pct(light, 50), total, deprioritised: st.deprioritised };
}

export const shardsCodel: BenchCase = {
  name: 'shards-codel',
  async run(ctx) {
    const points = ctx.quick ? 200_000 : 500_000;
    const ps: Point[] = [];
    const batches: Uint8Array[] = [];
    for (let j = 0; j < points; j++) {
      ps.push({ metric: 'cpu', tags: { host: `h${j % 500}` }, t: j, v: j % 100 });
      if (ps.length === 10_000) batches.push(encodePoints(ps.splice(0)));
    }
    const heavyN = ctx.quick ? 20 : 40;
    const lightN = ctx.quick ? 60 : 150;
    const fifo = await burst(ctx, 'off', batches, points, heavyN, lightN);
    const codel = await burst(ctx, 'deprioritise', batches, points, heavyN, lightN);
    const notes = {
      points,
      heavyQueries: heavyN,
      lightQueries: lightN,
      codelP50: codel.p50,
      fifoP50: fifo.p50,
      codelBurstMs: codel.total,
      fifoBurstMs: fifo.total,
      deprioritised: codel.deprioritised,
      machine: '2 cores shared with concurrent work',
    };
    ctx.report({ metric: 'light-query p99 under heavy burst', unit: 'ms', higherIsBetter: false, ours: codel.p99, peers: { 'FIFO (no CoDel)': fifo.p99 }, notes });
  },
};
