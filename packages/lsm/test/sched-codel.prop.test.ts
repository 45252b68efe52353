import fc from 'fast-check';
import { expect, it } from 'vitest';
import { CoDel } from '../src/sched/codel.js';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300);

/**
 * Reference: RFC 8289 section 5 pseudocode, written as a loop over a real FIFO of packets with arrival
 * times, dequeued at given service instants. It returns, per dequeue call, which packets were dropped.
 */
function rfcReference(arrivals: number[], dequeueTimes: number[], target: number, interval: number): boolean[] {
  const q = arrivals.map((t, i) => ({ t, i }));
  const dropped: boolean[] = arrivals.map(() => false);
  let firstAbove = 0;
  let dropNext = 0;
  let count = 0;
  let lastcount = 0;
  let dropping = false;
  const ctl = (t: number, c: number) => t + interval / Math.sqrt(c);
  function dodequeue(now: number) {
    const p = q.shift();
    if (p === undefined) {
      firstAbove = 0;
      return { p, ok: false };
    }
    const sojourn = now - p.t;
    if (sojourn < target || q.length === 0) {
      firstAbove = 0;
      return { p, ok: false };
    }
    if (firstAbove === 0) {
      firstAbove = now + interval;
      return { p, ok: false };
    }
    return { p, ok: now >= firstAbove };
  }
  for (const now of dequeueTimes) {
    if (q.length === 0) break;
    let r = dodequeue(now);
    if (dropping) {
      if (!r.ok) dropping = false;
      while (now >= dropNext && dropping && r.p) {
        dropped[r.p.i] = true;
        ++count;
        r = dodequeue(now);
        if (!r.ok) dropping = false;
        else dropNext = ctl(dropNext, count);
      }
    } else if (r.ok && r.p) {
      dropped[r.p.i] = true;
      r = dodequeue(now);
      dropping = true;
      const delta = count - lastcount;
      count = 1;
      if (delta > 1 && now - dropNext < 16 * interval) count = delta;
      dropNext = ctl(now, count);
      lastcount = count;
    }
  }
  return dropped;
}

/** Ours, driven the same way: one decision per queued packet, the next packet dequeued at once after a drop. */
function ours(arrivals: number[], dequeueTimes: number[], target: number, interval: number): boolean[] {
  const codel = new CoDel(target, interval);
  const dropped = arrivals.map(() => false);
  let next = 0;
  for (const now of dequeueTimes) {
    while (next < arrivals.length) {
      const i = next++;
      const drop = codel.onDequeue(now - arrivals[i]!, now, next >= arrivals.length);
      if (!drop) break;
      dropped[i] = true;
    }
    if (next >= arrivals.length) break;
  }
  return dropped;
}

it('CoDel never drops below target, and makes the same drop decisions as RFC 8289', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 200 }),
      fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 200 }),
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 10, max: 200 }),
      (gaps, services, target, interval) => {
        const arrivals: number[] = [];
        let t = 1;
        for (const g of gaps) arrivals.push((t += g));
        const deq: number[] = [];
        let d = arrivals[0]!;
        for (const s of services) deq.push((d += s));
        const ref = rfcReference(arrivals, deq, target, interval);
        const got = ours(arrivals, deq, target, interval);
        // Same drop decisions as the RFC's own pseudocode, packet by packet.
        expect(got).toEqual(ref);
        // Nothing dropped while the delay stays under target: if no packet ever waits >= target, no drops.
        const maxWait = Math.max(...deq.slice(0, arrivals.length).map((x, i) => x - arrivals[i]!));
        if (maxWait < target) expect(got.some(Boolean)).toBe(false);
      },
    ),
    { numRuns },
  );
});

it('CoDel spaces drops by interval/sqrt(count) under a constant standing delay', () => {
  const codel = new CoDel(5, 100);
  const drops: number[] = [];
  for (let now = 0; now <= 2000; now++) if (codel.onDequeue(50, now, false)) drops.push(now);
  expect(drops[0]).toBe(100);
  for (let k = 1; k < drops.length; k++) {
    const expected = 100 / Math.sqrt(k);
    expect(drops[k]! - drops[k - 1]!).toBeGreaterThanOrEqual(Math.floor(expected));
    expect(drops[k]! - drops[k - 1]!).toBeLessThanOrEqual(Math.ceil(expected) + 1);
  }
  expect(codel.onDequeue(1, 2001, false)).toBe(false);
  expect(codel.dropping).toBe(false);
});
