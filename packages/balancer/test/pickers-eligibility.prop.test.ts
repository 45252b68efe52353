import fc from 'fast-check';
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
  weighted,
  zoneAware,
} from '@dataplane/balancer';
import type { Endpoint, EndpointSet, Picker, PickerFactory } from '@dataplane/balancer';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 150);

const factories: Record<string, () => PickerFactory> = {
  roundRobin: () => roundRobin(),
  random: () => random(),
  p2c: () => p2c(),
  peakEwma: () => p2c({ load: 'peak-ewma' }),
  weighted: () => weighted(),
  zoneAware: () => zoneAware(p2c(), { localZone: 'a', minClusterSize: 2 }),
  slowStart: () => slowStart(weighted(), { windowMs: 1000 }),
  outlier: () => outlierAware(roundRobin(), { consecutiveFailures: 2, maxEjectionPercent: 50 }),
  stack: () => outlierAware(zoneAware(slowStart(p2c(), { windowMs: 500 }), { localZone: 'b', minClusterSize: 3 })),
};

interface Model {
  eps: Map<string, { ready: boolean; serving: boolean; terminating: boolean }>;
}
interface Real {
  set: EndpointSet;
  picker: Picker;
  clock: { now: number };
}

const eligible = (e: { ready: boolean; serving: boolean; terminating: boolean }) => e.ready && e.serving && !e.terminating;

class Upsert implements fc.Command<Model, Real> {
  constructor(
    readonly id: number,
    readonly ready: boolean,
    readonly serving: boolean,
    readonly terminating: boolean,
    readonly weight: number,
    readonly zone: string,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const id = `e${this.id}`;
    m.eps.set(id, { ready: this.ready, serving: this.serving, terminating: this.terminating });
    r.set.upsert({ id, address: `10.0.0.${this.id}:80`, ready: this.ready, serving: this.serving, terminating: this.terminating, weight: this.weight, zone: this.zone });
  }
  toString = () => `upsert(e${this.id},r=${this.ready},s=${this.serving},t=${this.terminating},w=${this.weight},z=${this.zone})`;
}
class Remove implements fc.Command<Model, Real> {
  constructor(readonly id: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.eps.delete(`e${this.id}`);
    r.set.remove(`e${this.id}`);
  }
  toString = () => `remove(e${this.id})`;
}
class Outcome implements fc.Command<Model, Real> {
  constructor(
    readonly id: number,
    readonly ok: boolean,
    readonly advanceMs: number,
  ) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    r.clock.now += this.advanceMs;
    r.set.onStart(`e${this.id}`);
    r.set.onEnd(`e${this.id}`, 5, this.ok);
  }
  toString = () => `outcome(e${this.id},${this.ok},+${this.advanceMs})`;
}
class Pick implements fc.Command<Model, Real> {
  constructor(readonly n: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const total = m.eps.size;
    const good = [...m.eps.values()].filter(eligible).length;
    const panic = total > 0 && good * 100 < 50 * total;
    for (let i = 0; i < this.n; i++) {
      const ep: Endpoint | undefined = r.picker.pick();
      if (total === 0) {
        expect(ep).toBeUndefined();
        continue;
      }
      if (good === 0 && !panic) {
        expect(ep).toBeUndefined();
        continue;
      }
      expect(ep).toBeDefined();
      const state = m.eps.get(ep!.id);
      expect(state).toBeDefined();
      if (!panic) expect(eligible(state!)).toBe(true);
    }
  }
  toString = () => `pick(${this.n})`;
}

const commands = [
  fc
    .tuple(fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 5 }), fc.constantFrom('a', 'b', 'c'))
    .map(([id, r, s, t, w, z]) => new Upsert(id, r || s, s || !t, t && !r, w, z)),
  fc.integer({ min: 0, max: 9 }).map((id) => new Remove(id)),
  fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.integer({ min: 0, max: 400 })).map(([id, ok, adv]) => new Outcome(id, ok, adv)),
  fc.integer({ min: 1, max: 20 }).map((n) => new Pick(n)),
];

describe('pickers only return eligible endpoints (or follow the panic rule)', () => {
  for (const [name, make] of Object.entries(factories)) {
    it(name, () => {
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 60 }), fc.integer(), (cmds, seed) => {
          const clock = { now: 0 };
          const set = createEndpointSet({ clock: () => clock.now });
          const picker = createPicker(set, make(), { random: createRng(seed).next });
          fc.modelRun(() => ({ model: { eps: new Map() }, real: { set, picker, clock } }), cmds);
          picker.close();
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('outlierAware never returns an ejected endpoint outside panic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 12 }), fc.integer({ min: 0, max: 11 }), fc.integer(), (n, bad, seed) => {
        const set = createEndpointSet({ clock: () => 0 });
        set.replaceAll(Array.from({ length: n }, (_, i) => ({ id: `e${i}`, address: `h:${i}` })));
        const picker = createPicker(set, outlierAware(p2c(), { consecutiveFailures: 1, maxEjectionPercent: 100, panicThresholdPercent: 0 }), {
          random: createRng(seed).next,
        });
        const target = `e${bad % n}`;
        set.onEnd(target, 1, false);
        for (let i = 0; i < 30; i++) expect(picker.pick()!.id).not.toBe(target);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
