import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createQueryScheduler, estimateQueryCost, LsmError, type OverloadMode } from '@dataplane/lsm';

/** Simulated time: each task advances the clock by its service time (one shard, concurrency 1). */
async function burst(mode: OverloadMode, heavyN: number, lightN: number) {
  let now = 0;
  const sched = createQueryScheduler({ mode, targetMs: 5, intervalMs: 20, heavyCost: 1000, clock: () => now });
  const lightWaits: number[] = [];
  const heavyResults: ('ok' | 'dropped')[] = [];
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < heavyN; i++) {
    all.push(
      sched.run(5000, () => void (now += 10)).then(
        () => heavyResults.push('ok'),
        (e) => {
          expect(LsmError.is(e, 'LSM_OVERLOADED')).toBe(true);
          expect((e as LsmError).retryable).toBe(true);
          heavyResults.push('dropped');
        },
      ),
    );
  }
  for (let i = 0; i < lightN; i++) {
    const at = now;
    all.push(
      sched.run(10, () => {
        lightWaits.push(now - at);
        now += 1;
      }),
    );
  }
  await Promise.all(all);
  return { lightWaits, heavyResults, stats: sched.stats() };
}

describe('query scheduler', () => {
  it('estimates cost as series x range / step', () => {
    expect(estimateQueryCost({ series: 100, fromMs: 0, toMs: 3_600_000, stepMs: 60_000 })).toBe(6000);
    expect(estimateQueryCost({ series: 0, fromMs: 5, toMs: 5 })).toBe(1);
    expect(() => estimateQueryCost({ series: -1, fromMs: 0, toMs: 1 })).toThrow(LsmError);
    expect(() => estimateQueryCost({ series: 1, fromMs: 0, toMs: 1, stepMs: -5 })).toThrow(LsmError);
  });

  it('without CoDel, light queries wait behind a heavy burst (FIFO)', async () => {
    const r = await burst('off', 50, 10);
    expect(Math.min(...r.lightWaits)).toBeGreaterThanOrEqual(490);
    expect(r.heavyResults.every((x) => x === 'ok')).toBe(true);
  });

  it('with CoDel (deprioritise), light queries overtake the standing heavy queue; heavy ones still run', async () => {
    const r = await burst('deprioritise', 50, 10);
    expect(Math.max(...r.lightWaits)).toBeLessThan(60);
    expect(r.heavyResults.filter((x) => x === 'ok')).toHaveLength(50);
    expect(r.stats.deprioritised).toBeGreaterThan(0);
    expect(r.stats.completed).toBe(60);
  });

  it('with CoDel (drop), heavy queries are shed at CoDel pace, light ones never', async () => {
    const r = await burst('drop', 50, 10);
    expect(r.lightWaits).toHaveLength(10);
    const dropped = r.heavyResults.filter((x) => x === 'dropped').length;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(50);
    expect(r.stats.dropped).toBe(dropped);
    expect(r.stats.completed).toBe(60 - dropped);
  });

  it('every query completes, fails or is refused exactly once (random mixes)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ cost: fc.integer({ min: 0, max: 3000 }), service: fc.integer({ min: 0, max: 20 }), fail: fc.boolean() }), {
          maxLength: 80,
        }),
        fc.constantFrom<OverloadMode>('off', 'deprioritise', 'drop'),
        async (qs, mode) => {
          let now = 0;
          const sched = createQueryScheduler({ mode, targetMs: 2, intervalMs: 10, heavyCost: 1000, clock: () => now });
          let settled = 0;
          let lightRefused = 0;
          const order: number[] = [];
          await Promise.all(
            qs.map((q, i) =>
              sched
                .run(q.cost, () => {
                  order.push(i);
                  now += q.service;
                  if (q.fail) throw new Error('boom');
                  return i;
                })
                .then(
                  (v) => {
                    expect(v).toBe(i);
                    settled++;
                  },
                  (e) => {
                    settled++;
                    if (LsmError.is(e, 'LSM_OVERLOADED') && q.cost < 1000) lightRefused++;
                  },
                ),
            ),
          );
          expect(settled).toBe(qs.length);
          expect(lightRefused).toBe(0);
          expect(new Set(order).size).toBe(order.length);
          const s = sched.stats();
          expect(s.completed + s.failed + s.dropped).toBe(qs.length);
          expect(s.queuedLight + s.queuedHeavy + s.running).toBe(0);
        },
      ),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 100) },
    );
  });

  it('abort while queued, queue full, close, validation', async () => {
    const sched = createQueryScheduler({ maxQueue: 2 });
    let release!: () => void;
    const first = sched.run(1, () => new Promise<void>((r) => (release = r)));
    const ac = new AbortController();
    const second = sched.run(1, () => 2, ac.signal);
    const third = sched.run(1, () => 3);
    await expect(sched.run(1, () => 4)).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_OVERLOADED'));
    ac.abort();
    await expect(second).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_ABORTED'));
    release();
    await first;
    expect(await third).toBe(3);
    await expect(sched.run(-1, () => 1)).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    let hold!: () => void;
    const running = sched.run(1, () => new Promise<void>((r) => (hold = r)));
    const queued = sched.run(1, () => 1);
    sched.close();
    sched.close();
    await expect(queued).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_CLOSED'));
    await expect(sched.run(1, () => 1)).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_CLOSED'));
    hold();
    await running;
    expect(() => createQueryScheduler({ mode: 'lifo' as never })).toThrow(LsmError);
    expect(() => createQueryScheduler({ concurrency: 0 })).toThrow(LsmError);
  });
});
