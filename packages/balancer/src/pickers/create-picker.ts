import { BalancerError } from '../errors.js';
import { coreOf } from '../endpoints/endpoint-set.js';
import type { SetCore } from '../endpoints/endpoint-set.js';
import type { Endpoint, EndpointSet } from '../endpoints/types.js';
import { createRng } from '../random/xoshiro.js';
import { ensureCapacity, markUniform, newCandidates } from './types.js';
import type { CandidateSource, Candidates, Picker, PickerFactory, PickerStats } from './types.js';

/**
 * Options of {@link createPicker}.
 *
 * @since 0.1.0
 */
export interface CreatePickerOptions {
  /** Uniform random numbers in [0, 1). @defaultValue a xoshiro128** generator seeded from `Math.random` */
  random?: (() => number) | undefined;
  /**
   * Panic threshold in percent: when fewer than this share of the endpoints are eligible (ready, serving, not
   * terminating), the picker ignores eligibility and spreads over every endpoint of the set, as Envoy does.
   * 0 disables panic routing. @defaultValue 50
   */
  panicThresholdPercent?: number | undefined;
}

/** @internal Whether an endpoint may receive traffic outside panic mode. */
export function isEligible(ep: Endpoint): boolean {
  return ep.ready && ep.serving && !ep.terminating;
}

class RootSource implements CandidateSource {
  private readonly c: Candidates = newCandidates(16);
  private seen = -1;
  panic = false;
  constructor(
    private readonly core: SetCore,
    private readonly panicPct: number,
  ) {}
  current(): Candidates {
    const core = this.core;
    if (core.version === this.seen) return this.c;
    this.seen = core.version;
    const c = this.c;
    ensureCapacity(c, core.slotCount);
    let n = 0;
    for (let i = 0; i < core.slotCount; i++) {
      const s = core.slotList[i]!;
      const ep = core.bySlot[s]!;
      if (isEligible(ep)) {
        c.slots[n] = s;
        c.weights[n++] = ep.weight;
      }
    }
    this.panic = core.slotCount > 0 && n * 100 < this.panicPct * core.slotCount;
    if (this.panic) {
      n = 0;
      for (let i = 0; i < core.slotCount; i++) {
        const s = core.slotList[i]!;
        c.slots[n] = s;
        c.weights[n++] = core.bySlot[s]!.weight;
      }
    }
    c.count = n;
    markUniform(c);
    c.version++;
    return c;
  }
}

/**
 * Binds a picker algorithm to an endpoint set.
 *
 * @remarks
 * A pick never returns an endpoint that is not ready, not serving, terminating or (under {@link outlierAware})
 * ejected, with one exception, the panic rule: when fewer than `panicThresholdPercent` of the endpoints are
 * eligible, every endpoint of the set becomes a candidate (Envoy's panic routing: better to try all hosts than
 * to overload the few healthy ones). {@link outlierAware} applies the same rule to ejections.
 *
 * @param set - a set made by {@link createEndpointSet}.
 * @param factory - the algorithm, for example `outlierAware(zoneAware(p2c(), { localZone: 'a' }))`.
 * @param opts - randomness and panic threshold.
 * @returns the picker.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on a foreign set or invalid options.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, p2c } from '@dataplane/balancer';
 *
 * const set = createEndpointSet();
 * set.replaceAll([{ id: 'a', address: '10.0.0.1:80' }, { id: 'b', address: '10.0.0.2:80' }]);
 * const picker = createPicker(set, p2c());
 * const ep = picker.pick();
 * ```
 * @since 0.1.0
 */
export function createPicker(set: EndpointSet, factory: PickerFactory, opts: CreatePickerOptions = {}): Picker {
  const core = coreOf(set);
  if (typeof factory !== 'object' || factory === null || typeof factory.bind !== 'function') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'factory must be a picker factory such as p2c()');
  }
  const panicPct = opts.panicThresholdPercent ?? 50;
  if (!(panicPct >= 0 && panicPct <= 100)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'panicThresholdPercent must be in [0, 100]');
  }
  let random = opts.random;
  if (random === undefined) {
    const rng = createRng(Math.floor(Math.random() * 2 ** 32));
    random = rng.next;
  }
  const closers: (() => void)[] = [];
  const root = new RootSource(core, panicPct);
  const stage = factory.bind(root, { core, random, onClose: (fn) => closers.push(fn) });
  let closed = false;
  let picks = 0;
  let empty = 0;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const fn of closers) fn();
  };
  return {
    name: factory.name,
    pick(): Endpoint | undefined {
      const s = stage.pickSlot();
      if (s < 0) {
        empty++;
        return undefined;
      }
      picks++;
      return core.bySlot[s];
    },
    stats(): PickerStats {
      root.current();
      return { picks, empty, panic: root.panic };
    },
    close,
    [Symbol.dispose]: close,
  };
}
