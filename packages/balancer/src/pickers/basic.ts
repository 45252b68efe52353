import { BalancerError } from '../errors.js';
import type { CandidateSource, Candidates, PickerContext, PickerFactory, SlotPicker } from './types.js';

/**
 * Round robin over the candidates, ignoring weights (use {@link weighted} for weights).
 *
 * @returns the picker factory.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, roundRobin } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), roundRobin());
 * ```
 * @since 0.1.0
 */
export function roundRobin(): PickerFactory {
  return {
    name: 'roundRobin',
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      let next = -1;
      return {
        pickSlot(): number {
          const c = source.current();
          if (c.count === 0) return -1;
          // random start so that many clients do not march in lockstep
          if (next < 0) next = Math.floor(ctx.random() * c.count);
          if (next >= c.count) next = 0;
          return c.slots[next++]!;
        },
      };
    },
  };
}

/** @internal Weighted sampling in O(1): Vose's alias table, rebuilt in O(n) when the candidates change. */
export class WeightedSampler {
  private prob = new Float64Array(16);
  private alias = new Int32Array(16);
  private small = new Int32Array(16);
  private large = new Int32Array(16);
  private seen = -1;
  private build(c: Candidates): void {
    const n = c.count;
    if (this.prob.length < n) {
      this.prob = new Float64Array(c.slots.length);
      this.alias = new Int32Array(c.slots.length);
      this.small = new Int32Array(c.slots.length);
      this.large = new Int32Array(c.slots.length);
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += c.weights[i]!;
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      const p = (c.weights[i]! * n) / total;
      this.prob[i] = p;
      this.alias[i] = i;
      if (p < 1) this.small[ns++] = i;
      else this.large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = this.small[--ns]!;
      const l = this.large[nl - 1]!;
      this.alias[s] = l;
      const pl = this.prob[l]! + this.prob[s]! - 1;
      this.prob[l] = pl;
      if (pl < 1) {
        nl--;
        this.small[ns++] = l;
      }
    }
    while (nl > 0) this.prob[this.large[--nl]!] = 1;
    while (ns > 0) this.prob[this.small[--ns]!] = 1; // rounding leftovers
  }
  sample(c: Candidates, u: number): number {
    if (c.uniform) return Math.floor(u * c.count);
    if (this.seen !== c.version) {
      this.seen = c.version;
      this.build(c);
    }
    const x = u * c.count;
    const i = Math.floor(x);
    return x - i < this.prob[i]! ? i : this.alias[i]!;
  }
}

/**
 * Random choice, proportional to weight (uniform when all weights are equal; an alias table otherwise, O(1) per pick).
 *
 * @returns the picker factory.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, random } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), random());
 * ```
 * @since 0.1.0
 */
export function random(): PickerFactory {
  return {
    name: 'random',
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      const sampler = new WeightedSampler();
      return {
        pickSlot(): number {
          const c = source.current();
          if (c.count === 0) return -1;
          return c.slots[sampler.sample(c, ctx.random())]!;
        },
      };
    },
  };
}

/**
 * Options of {@link p2c}.
 *
 * @since 0.1.0
 */
export interface P2cOptions {
  /**
   * What "least loaded" means: `'least-request'` compares in-flight requests (Envoy's LEAST_REQUEST);
   * `'peak-ewma'` compares peak-EWMA latency times (in-flight + 1) (Finagle's and Linkerd's cost).
   * @defaultValue 'least-request'
   */
  load?: 'least-request' | 'peak-ewma' | undefined;
  /**
   * Envoy's `active_request_bias`: with unequal weights, an endpoint's effective weight is
   * `weight / (inFlight + 1) ^ bias`. @defaultValue 1
   */
  activeRequestBias?: number | undefined;
  /** Latency in ms assumed for an endpoint without samples under `'peak-ewma'`. @defaultValue 1 */
  defaultLatencyMs?: number | undefined;
}

/**
 * Power of two choices: samples two distinct candidates and keeps the less loaded one.
 *
 * @remarks
 * With equal weights, the one with fewer in-flight requests (or lower peak-EWMA cost) wins, as in Envoy's
 * LEAST_REQUEST with `choice_count: 2`. With unequal weights the two are sampled in proportion to weight and the
 * higher effective weight `weight / (inFlight + 1) ^ activeRequestBias` wins.
 *
 * @param opts - load measure and bias.
 * @returns the picker factory.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, p2c } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), p2c({ load: 'peak-ewma' }));
 * ```
 * @since 0.1.0
 */
export function p2c(opts: P2cOptions = {}): PickerFactory {
  const load = opts.load ?? 'least-request';
  const bias = opts.activeRequestBias ?? 1;
  const defLat = opts.defaultLatencyMs ?? 1;
  if (load !== 'least-request' && load !== 'peak-ewma') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', "load must be 'least-request' or 'peak-ewma'");
  }
  if (!(bias >= 0) || !Number.isFinite(bias)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'activeRequestBias must be a finite number >= 0');
  }
  if (!(defLat > 0) || !Number.isFinite(defLat)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'defaultLatencyMs must be a positive finite number');
  }
  const ewma = load === 'peak-ewma';
  return {
    name: ewma ? 'p2c(peak-ewma)' : 'p2c',
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      const { core } = ctx;
      const sampler = new WeightedSampler();
      const rnd = ctx.random;
      // cost: lower wins
      const cost = (slot: number, weight: number, uniform: boolean): number => {
        const inflight = core.inFlight[slot]! + 1;
        let base = inflight;
        if (ewma) {
          const l = core.ewmaLatency[slot]!;
          base = (l > 0 ? l : defLat) * inflight;
        }
        if (uniform) return base;
        return bias === 1 ? base / weight : Math.pow(base, bias) / weight;
      };
      return {
        pickSlot(): number {
          const c = source.current();
          const n = c.count;
          if (n === 0) return -1;
          if (n === 1) return c.slots[0]!;
          let i: number;
          let j: number;
          if (c.uniform) {
            i = Math.floor(rnd() * n);
            j = Math.floor(rnd() * (n - 1));
            if (j >= i) j++;
          } else {
            i = sampler.sample(c, rnd());
            j = sampler.sample(c, rnd());
            if (j === i) j = i + 1 < n ? i + 1 : 0;
          }
          const si = c.slots[i]!;
          const sj = c.slots[j]!;
          const ci = cost(si, c.weights[i]!, c.uniform);
          const cj = cost(sj, c.weights[j]!, c.uniform);
          return cj < ci ? sj : si;
        },
      };
    },
  };
}

/**
 * Smooth weighted scheduling by earliest deadline first, as Envoy's EDF scheduler: each candidate's next
 * deadline is its last one plus `1 / weight`, and the earliest deadline is picked (O(log n) on a binary heap in
 * typed arrays, allocation-free).
 *
 * @returns the picker factory.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, weighted } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), weighted());
 * ```
 * @since 0.1.0
 */
export function weighted(): PickerFactory {
  return {
    name: 'weighted',
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      let heap = new Int32Array(16); // candidate indices
      let deadline = new Float64Array(16);
      let size = 0;
      let seen = -1;
      let now = 0;
      const less = (a: number, b: number): boolean => deadline[a]! < deadline[b]! || (deadline[a] === deadline[b] && a < b);
      const siftDown = (pos: number): void => {
        const x = heap[pos]!;
        for (;;) {
          let child = 2 * pos + 1;
          if (child >= size) break;
          if (child + 1 < size && less(heap[child + 1]!, heap[child]!)) child++;
          if (!less(heap[child]!, x)) break;
          heap[pos] = heap[child]!;
          pos = child;
        }
        heap[pos] = x;
      };
      const rebuild = (c: Candidates): void => {
        if (heap.length < c.count) {
          heap = new Int32Array(c.slots.length);
          deadline = new Float64Array(c.slots.length);
        }
        size = c.count;
        now = 0;
        for (let i = 0; i < size; i++) {
          heap[i] = i;
          // random phase in [0, 1/w) so that a fresh picker does not start on the same endpoint everywhere
          deadline[i] = ctx.random() / c.weights[i]!;
        }
        for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
      };
      return {
        pickSlot(): number {
          const c = source.current();
          if (c.count === 0) return -1;
          if (c.version !== seen) {
            seen = c.version;
            rebuild(c);
          }
          const top = heap[0]!;
          now = deadline[top]!;
          deadline[top] = now + 1 / c.weights[top]!;
          siftDown(0);
          return c.slots[top]!;
        },
      };
    },
  };
}
