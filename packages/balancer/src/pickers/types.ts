import type { Endpoint } from '../endpoints/types.js';
import type { SetCore } from '../endpoints/endpoint-set.js';

/**
 * A per-request endpoint picker bound to an {@link EndpointSet}.
 *
 * @since 0.1.0
 */
export interface Picker {
  /** The composed algorithm, for example `outlierAware(zoneAware(p2c))`. */
  readonly name: string;
  /** Picks an endpoint for one request, or `undefined` when the set has none to offer. */
  pick(): Endpoint | undefined;
  /** A plain snapshot of the picker's counters. */
  stats(): PickerStats;
  /** Releases subscriptions (idempotent). */
  close(): void;
  /** Same as {@link Picker.close}. */
  [Symbol.dispose](): void;
}

/**
 * Counters of a {@link Picker}.
 *
 * @since 0.1.0
 */
export interface PickerStats {
  /** Picks that returned an endpoint. */
  readonly picks: number;
  /** Picks that returned `undefined`. */
  readonly empty: number;
  /** Whether the set is in panic (too few eligible endpoints, every endpoint is a candidate). */
  readonly panic: boolean;
}

/**
 * @internal The candidate endpoints a picker stage chooses among: slots into the set's core, with weights.
 */
export interface Candidates {
  /** Changes whenever `slots`, `count` or `weights` change. */
  version: number;
  count: number;
  slots: Int32Array;
  weights: Float64Array;
  /** Whether every weight is equal. */
  uniform: boolean;
}

/** @internal A stage's input; `current()` refreshes lazily and is O(1) when nothing changed. */
export interface CandidateSource {
  current(): Candidates;
}

/** @internal What a factory gets besides its source. */
export interface PickerContext {
  readonly core: SetCore;
  readonly random: () => number;
  readonly onClose: (fn: () => void) => void;
}

/** @internal A bound picker stage: returns a slot, or -1. */
export interface SlotPicker {
  pickSlot(): number;
}

/**
 * A composable picker algorithm: pass it to {@link createPicker}, or to a wrapper such as {@link zoneAware}.
 *
 * @since 0.1.0
 */
export interface PickerFactory {
  /** Human-readable name of the algorithm. */
  readonly name: string;
  /** @internal */
  bind(source: CandidateSource, ctx: PickerContext): SlotPicker;
}

/** @internal Allocates an empty candidates record with room for `n`. */
export function newCandidates(n: number): Candidates {
  return { version: 0, count: 0, slots: new Int32Array(Math.max(4, n)), weights: new Float64Array(Math.max(4, n)), uniform: true };
}

/** @internal Makes sure `c` can hold `n` entries. */
export function ensureCapacity(c: Candidates, n: number): void {
  if (c.slots.length >= n) return;
  let size = c.slots.length;
  while (size < n) size *= 2;
  c.slots = new Int32Array(size);
  c.weights = new Float64Array(size);
}

/** @internal Recomputes `uniform`. */
export function markUniform(c: Candidates): void {
  let u = true;
  const w0 = c.weights[0];
  for (let i = 1; i < c.count; i++) {
    if (c.weights[i] !== w0) {
      u = false;
      break;
    }
  }
  c.uniform = u;
}
