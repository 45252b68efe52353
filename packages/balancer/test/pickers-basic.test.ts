import { describe, expect, it } from 'vitest';
import {
  createEndpointSet,
  createPicker,
  createRng,
  outlierAware,
  p2c,
  random,
  roundRobin,
  slowStart,
  slowStartFactor,
  weighted,
  zoneAware,
  zoneRouting,
} from '@dataplane/balancer';
import type { PickerFactory } from '@dataplane/balancer';

const eps = (n: number, extra: (i: number) => object = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({ id: `e${i}`, address: `10.0.0.${i}:80`, ...extra(i) }));

function counts(factory: PickerFactory, n: number, picks: number, extra?: (i: number) => object, seed = 1) {
  const set = createEndpointSet();
  set.replaceAll(eps(n, extra));
  const picker = createPicker(set, factory, { random: createRng(seed).next });
  const c: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const ep = picker.pick()!;
    c[ep.id] = (c[ep.id] ?? 0) + 1;
  }
  return c;
}

describe('basic pickers', () => {
  it('roundRobin cycles through every eligible endpoint exactly evenly', () => {
    const c = counts(roundRobin(), 5, 500, (i) => ({ ready: i !== 2 }));
    expect(c).toEqual({ e0: 125, e1: 125, e3: 125, e4: 125 });
  });

  it('weighted (EDF) serves weights exactly over a full cycle', () => {
    const c = counts(weighted(), 3, 600, (i) => ({ weight: i + 1 }));
    expect(c).toEqual({ e0: 100, e1: 200, e2: 300 });
  });

  it('random follows weights within statistical bounds', () => {
    const c = counts(random(), 2, 20_000, (i) => ({ weight: i === 0 ? 1 : 3 }));
    expect(c.e1! / 20_000).toBeGreaterThan(0.73);
    expect(c.e1! / 20_000).toBeLessThan(0.77);
  });

  it('p2c prefers the endpoint with fewer requests in flight', () => {
    const set = createEndpointSet();
    set.replaceAll(eps(2));
    set.onStart('e0');
    const picker = createPicker(set, p2c(), { random: createRng(3).next });
    for (let i = 0; i < 50; i++) expect(picker.pick()!.id).toBe('e1');
  });

  it('peak-EWMA p2c prefers the faster endpoint', () => {
    const set = createEndpointSet();
    set.replaceAll(eps(2));
    set.onEnd('e0', 50, true);
    set.onEnd('e1', 5, true);
    const picker = createPicker(set, p2c({ load: 'peak-ewma' }), { random: createRng(3).next });
    for (let i = 0; i < 20; i++) expect(picker.pick()!.id).toBe('e1');
  });

  it('returns undefined on an empty set and enters panic when few endpoints are eligible', () => {
    const set = createEndpointSet();
    const picker = createPicker(set, p2c());
    expect(picker.pick()).toBeUndefined();
    set.replaceAll(eps(4, (i) => ({ ready: i === 0 })));
    // 1 of 4 eligible < 50%: panic spreads over all
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(picker.pick()!.id);
    expect(seen.size).toBe(4);
    expect(picker.stats()).toEqual({ picks: 200, empty: 1, panic: true });
    const strict = createPicker(set, p2c(), { panicThresholdPercent: 0 });
    for (let i = 0; i < 50; i++) expect(strict.pick()!.id).toBe('e0');
  });
});

describe('zone-aware routing', () => {
  it("reproduces Envoy's worked example exactly", () => {
    const r = zoneRouting({ A: 1, B: 2, C: 1 }, { A: 40, B: 40, C: 20 }, 'A', 0);
    expect(r.mode).toBe('residual');
    expect(r.shares.A).toBeCloseTo(0.625, 12);
    expect(r.shares.B).toBeCloseTo(0.25, 12);
    expect(r.shares.C).toBeCloseTo(0.125, 12);
  });

  it('routes directly, falls back below min cluster size and when the local zone is empty', () => {
    expect(zoneRouting({ A: 3, B: 3 }, { A: 50, B: 50 }, 'A').mode).toBe('direct');
    expect(zoneRouting({ A: 2, B: 2 }, { A: 50, B: 50 }, 'A').mode).toBe('all');
    expect(zoneRouting({ A: 0, B: 8 }, { A: 50, B: 50 }, 'A').mode).toBe('all');
  });

  it('the picker sends traffic in the computed shares', () => {
    const zones = ['A', 'B', 'B', 'C'];
    const n = 40_000;
    const c = counts(
      zoneAware(roundRobin(), { localZone: 'A', callerZoneShares: { A: 40, B: 40, C: 20 }, minClusterSize: 0 }),
      4,
      n,
      (i) => ({ zone: zones[i] }),
    );
    expect(c.e0! / n).toBeCloseTo(0.625, 1.5);
    expect((c.e1! + c.e2!) / n).toBeCloseTo(0.25, 1.5);
    expect(c.e3! / n).toBeCloseTo(0.125, 1.5);
  });
  it('falls back to all zones when the local zone becomes unhealthy, and back again', () => {
    const set = createEndpointSet();
    set.replaceAll(eps(9, (i) => ({ zone: ['A', 'B', 'C'][i % 3] })));
    const picker = createPicker(set, zoneAware(p2c(), { localZone: 'A', callerZoneShares: { A: 1, B: 1, C: 1 } }), {
      random: createRng(2).next,
    });
    const zonesSeen = () => {
      const z = new Set<string>();
      for (let i = 0; i < 300; i++) z.add(picker.pick()!.zone!);
      return [...z].sort();
    };
    expect(zonesSeen()).toEqual(['A']);
    for (const i of [0, 3, 6]) set.upsert({ id: `e${i}`, address: `10.0.0.${i}:80`, zone: 'A', ready: false });
    expect(zonesSeen()).toEqual(['B', 'C']);
    set.upsert({ id: 'e3', address: '10.0.0.3:80', zone: 'A', ready: true });
    // 1 of 7 healthy upstreams is local (14 %) for 33 % of callers: 43 % stays local, the rest spills
    const z = new Map<string, number>();
    for (let i = 0; i < 7000; i++) {
      const zone = picker.pick()!.zone!;
      z.set(zone, (z.get(zone) ?? 0) + 1);
    }
    expect(z.get('A')! / 7000).toBeCloseTo(3 / 7, 1);
  });
});

describe('slow start', () => {
  it("follows Envoy's factor and ramps a new endpoint's share", () => {
    expect(slowStartFactor(0, { windowMs: 1000 })).toBe(0.1);
    expect(slowStartFactor(500, { windowMs: 1000 })).toBe(0.5);
    expect(slowStartFactor(250, { windowMs: 1000, aggression: 2 })).toBe(0.5);
    expect(slowStartFactor(2000, { windowMs: 1000 })).toBe(1);
    let now = 0;
    const set = createEndpointSet({ clock: () => now });
    set.upsert({ id: 'old', address: 'x:1' });
    now = 10_000;
    set.upsert({ id: 'new', address: 'x:2' });
    const picker = createPicker(set, slowStart(weighted(), { windowMs: 1000, refreshMs: 10 }));
    const share = () => {
      let k = 0;
      for (let i = 0; i < 1100; i++) if (picker.pick()!.id === 'new') k++;
      return k / 1100;
    };
    const early = share();
    now += 500;
    const mid = share();
    now += 1000;
    const late = share();
    expect(early).toBeCloseTo(0.1 / 1.1, 2);
    expect(mid).toBeCloseTo(0.5 / 1.5, 2);
    expect(late).toBeCloseTo(0.5, 2);
  });
});

describe('outlier ejection', () => {
  it('ejects on consecutive failures, for longer each time, and brings the endpoint back', () => {
    let now = 0;
    const set = createEndpointSet({ clock: () => now });
    set.replaceAll(eps(10));
    const picker = createPicker(
      set,
      outlierAware(roundRobin(), { consecutiveFailures: 3, baseEjectionMs: 1000, maxEjectionPercent: 10 }),
    );
    const hits = () => {
      let k = 0;
      for (let i = 0; i < 100; i++) if (picker.pick()!.id === 'e3') k++;
      return k;
    };
    expect(hits()).toBe(10);
    for (let i = 0; i < 3; i++) set.onEnd('e3', 1, false);
    expect(hits()).toBe(0);
    // max ejection percent: a second bad endpoint is not ejected while e3 is out
    for (let i = 0; i < 3; i++) set.onEnd('e4', 1, false);
    expect(picker.pick()).toBeDefined();
    now = 1001;
    expect(hits()).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) set.onEnd('e3', 1, false);
    now = 2500; // second ejection lasts 2000 ms: still out
    expect(hits()).toBe(0);
    now = 3002;
    expect(hits()).toBeGreaterThan(0);
  });

  it('ejects by success rate after an interval', () => {
    let now = 0;
    const set = createEndpointSet({ clock: () => now });
    set.replaceAll(eps(6));
    const picker = createPicker(
      set,
      outlierAware(roundRobin(), { consecutiveFailures: 0, intervalMs: 1000, successRateRequestVolume: 20, maxEjectionPercent: 50 }),
    );
    for (let r = 0; r < 40; r++) {
      for (let i = 0; i < 6; i++) set.onEnd(`e${i}`, 1, i === 5 ? r % 2 === 0 : true);
    }
    now = 1000;
    for (let i = 0; i < 60; i++) expect(picker.pick()!.id).not.toBe('e5');
  });
});
