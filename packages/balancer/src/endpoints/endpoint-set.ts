import { BalancerError } from '../errors.js';
import type { Endpoint, EndpointChange, EndpointInput, EndpointSet, EndpointStats } from './types.js';

/**
 * Options of {@link createEndpointSet}.
 *
 * @since 0.1.0
 */
export interface EndpointSetOptions {
  /** Clock in milliseconds (drives `addedAt` and EWMA decay). @defaultValue `Date.now` */
  clock?: (() => number) | undefined;
  /** Decay time constant of the peak-EWMA latency, in milliseconds. @defaultValue 10000 */
  latencyDecayMs?: number | undefined;
  /** Weight of the newest sample in the success-ratio EWMA, in (0, 1]. @defaultValue 0.1 */
  successAlpha?: number | undefined;
}

/** @internal Listener of per-request outcomes (used by outlier detection). */
export type OutcomeListener = (slot: number, ok: boolean) => void;

/**
 * @internal The allocation-free view pickers read: endpoints and statistics indexed by a stable slot number.
 */
export interface SetCore {
  readonly version: number;
  /** Endpoint per slot (undefined for a free slot). */
  readonly bySlot: readonly (Endpoint | undefined)[];
  /** Occupied slots in insertion order. */
  readonly slotList: Int32Array;
  readonly slotCount: number;
  readonly inFlight: Int32Array;
  readonly ewmaLatency: Float64Array;
  readonly successEwma: Float64Array;
  now(): number;
  slotOf(id: string): number;
  addOutcomeListener(l: OutcomeListener): () => void;
}

const CORE = Symbol.for('dataplane.balancer.endpointSetCore');

/** @internal The core of a set created by {@link createEndpointSet}. */
export function coreOf(set: EndpointSet): SetCore {
  const core = (set as unknown as Record<symbol, SetCore | undefined>)[CORE];
  if (core === undefined) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'pickers need an EndpointSet made by createEndpointSet()');
  }
  return core;
}

function normalize(input: EndpointInput, addedAt: number): Endpoint {
  if (typeof input !== 'object' || input === null) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'an endpoint must be an object');
  }
  const { id, address } = input;
  if (typeof id !== 'string' || id.length === 0) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'endpoint id must be a non-empty string');
  }
  if (typeof address !== 'string' || address.length === 0) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `endpoint ${id}: address must be a non-empty host:port`);
  }
  const weight = input.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `endpoint ${id}: weight must be a positive finite number`);
  }
  if (input.zone !== undefined && typeof input.zone !== 'string') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `endpoint ${id}: zone must be a string`);
  }
  const at = input.addedAt ?? addedAt;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `endpoint ${id}: addedAt must be a finite number`);
  }
  return Object.freeze({
    id,
    address,
    zone: input.zone,
    weight,
    ready: input.ready ?? true,
    serving: input.serving ?? true,
    terminating: input.terminating ?? false,
    labels: Object.freeze({ ...(input.labels ?? {}) }),
    addedAt: at,
  });
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (
    a.address !== b.address ||
    a.zone !== b.zone ||
    a.weight !== b.weight ||
    a.ready !== b.ready ||
    a.serving !== b.serving ||
    a.terminating !== b.terminating ||
    a.addedAt !== b.addedAt
  ) {
    return false;
  }
  const ka = Object.keys(a.labels);
  if (ka.length !== Object.keys(b.labels).length) return false;
  for (const k of ka) if (a.labels[k] !== b.labels[k]) return false;
  return true;
}

class EndpointSetImpl implements EndpointSet, SetCore {
  version = 0;
  bySlot: (Endpoint | undefined)[] = [];
  slotList = new Int32Array(16);
  slotCount = 0;
  inFlight = new Int32Array(16);
  ewmaLatency = new Float64Array(16);
  ewmaStamp = new Float64Array(16);
  successEwma = new Float64Array(16);
  total = new Float64Array(16);
  failures = new Float64Array(16);
  consecutive = new Float64Array(16);
  readonly [CORE]: SetCore = this;
  private readonly ids = new Map<string, number>();
  private readonly free: number[] = [];
  private readonly listeners = new Set<(c: EndpointChange) => void>();
  private readonly outcomeListeners = new Set<OutcomeListener>();
  private listCache: readonly Endpoint[] | undefined;
  private readonly clock: () => number;
  private readonly decayMs: number;
  private readonly alpha: number;

  constructor(opts: EndpointSetOptions) {
    this.clock = opts.clock ?? Date.now;
    this.decayMs = opts.latencyDecayMs ?? 10_000;
    this.alpha = opts.successAlpha ?? 0.1;
    if (!(this.decayMs > 0) || !Number.isFinite(this.decayMs)) {
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'latencyDecayMs must be a positive finite number');
    }
    if (!(this.alpha > 0 && this.alpha <= 1)) {
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'successAlpha must be in (0, 1]');
    }
  }

  now(): number {
    return this.clock();
  }

  slotOf(id: string): number {
    return this.ids.get(id) ?? -1;
  }

  addOutcomeListener(l: OutcomeListener): () => void {
    this.outcomeListeners.add(l);
    return () => this.outcomeListeners.delete(l);
  }

  private grow(): void {
    const n = this.inFlight.length * 2;
    const g = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.slotList = g(this.slotList);
    this.inFlight = g(this.inFlight);
    this.ewmaLatency = g(this.ewmaLatency);
    this.ewmaStamp = g(this.ewmaStamp);
    this.successEwma = g(this.successEwma);
    this.total = g(this.total);
    this.failures = g(this.failures);
    this.consecutive = g(this.consecutive);
  }

  private rebuildSlotList(): void {
    let n = 0;
    for (const slot of this.ids.values()) this.slotList[n++] = slot;
    this.slotCount = n;
    this.listCache = undefined;
  }

  private emit(change: EndpointChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a failing listener must not break the set or the other listeners
      }
    }
  }

  private apply(ep: Endpoint, changes: EndpointChange[]): void {
    const slot = this.ids.get(ep.id);
    if (slot !== undefined) {
      const prev = this.bySlot[slot]!;
      const next = ep.addedAt === prev.addedAt ? ep : Object.freeze({ ...ep, addedAt: prev.addedAt });
      if (sameEndpoint(prev, next)) return;
      this.bySlot[slot] = next;
      changes.push({ type: 'updated', endpoint: next, previous: prev, version: 0 });
      return;
    }
    let s = this.free.pop();
    if (s === undefined) {
      s = this.bySlot.length;
      if (s >= this.inFlight.length) this.grow();
      this.bySlot.push(undefined);
    }
    this.bySlot[s] = ep;
    this.inFlight[s] = 0;
    this.ewmaLatency[s] = 0;
    this.ewmaStamp[s] = this.clock();
    this.successEwma[s] = 1;
    this.total[s] = 0;
    this.failures[s] = 0;
    this.consecutive[s] = 0;
    this.ids.set(ep.id, s);
    changes.push({ type: 'added', endpoint: ep, version: 0 });
  }

  private drop(id: string, changes: EndpointChange[]): void {
    const slot = this.ids.get(id);
    if (slot === undefined) return;
    const ep = this.bySlot[slot]!;
    this.ids.delete(id);
    this.bySlot[slot] = undefined;
    this.free.push(slot);
    changes.push({ type: 'removed', endpoint: ep, version: 0 });
  }

  private commit(changes: EndpointChange[]): void {
    if (changes.length === 0) return;
    this.version++;
    this.rebuildSlotList();
    for (const c of changes) this.emit({ ...c, version: this.version });
  }

  upsert(input: EndpointInput): void {
    const changes: EndpointChange[] = [];
    this.apply(normalize(input, this.clock()), changes);
    this.commit(changes);
  }

  remove(id: string): void {
    const changes: EndpointChange[] = [];
    this.drop(id, changes);
    this.commit(changes);
  }

  replaceAll(inputs: readonly EndpointInput[]): void {
    if (!Array.isArray(inputs)) throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'replaceAll takes an array');
    const now = this.clock();
    const eps = inputs.map((i) => normalize(i, now));
    const keep = new Set<string>();
    for (const ep of eps) {
      if (keep.has(ep.id)) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `duplicate endpoint id ${ep.id}`);
      keep.add(ep.id);
    }
    const changes: EndpointChange[] = [];
    for (const id of [...this.ids.keys()]) if (!keep.has(id)) this.drop(id, changes);
    for (const ep of eps) this.apply(ep, changes);
    this.commit(changes);
  }

  get(id: string): Endpoint | undefined {
    const s = this.ids.get(id);
    return s === undefined ? undefined : this.bySlot[s];
  }

  list(): readonly Endpoint[] {
    if (this.listCache === undefined) {
      const out: Endpoint[] = [];
      for (let i = 0; i < this.slotCount; i++) out.push(this.bySlot[this.slotList[i]!]!);
      this.listCache = Object.freeze(out);
    }
    return this.listCache;
  }

  subscribe(listener: (change: EndpointChange) => void): () => void {
    if (typeof listener !== 'function') throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'listener must be a function');
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  onStart(id: string): void {
    const s = this.ids.get(id);
    if (s !== undefined) this.inFlight[s]!++;
  }

  onEnd(id: string, latencyMs: number, ok: boolean): void {
    const s = this.ids.get(id);
    if (s === undefined) return;
    if (this.inFlight[s]! > 0) this.inFlight[s]!--;
    const lat = Number.isFinite(latencyMs) && latencyMs >= 0 ? latencyMs : 0;
    const now = this.clock();
    const prev = this.ewmaLatency[s]!;
    if (this.total[s] === 0 || lat > prev) {
      this.ewmaLatency[s] = lat; // peak: jump up at once
    } else {
      const w = Math.exp(-Math.max(0, now - this.ewmaStamp[s]!) / this.decayMs);
      this.ewmaLatency[s] = prev * w + lat * (1 - w);
    }
    this.ewmaStamp[s] = now;
    this.successEwma[s] = this.successEwma[s]! * (1 - this.alpha) + (ok ? this.alpha : 0);
    this.total[s]!++;
    if (ok) {
      this.consecutive[s] = 0;
    } else {
      this.failures[s]!++;
      this.consecutive[s]!++;
    }
    for (const l of this.outcomeListeners) l(s, ok);
  }

  statsOf(id: string): EndpointStats {
    const s = this.ids.get(id);
    if (s === undefined) {
      return { inFlight: 0, ewmaLatencyMs: 0, successEwma: 1, total: 0, failures: 0, consecutiveFailures: 0 };
    }
    return {
      inFlight: this.inFlight[s]!,
      ewmaLatencyMs: this.ewmaLatency[s]!,
      successEwma: this.successEwma[s]!,
      total: this.total[s]!,
      failures: this.failures[s]!,
      consecutiveFailures: this.consecutive[s]!,
    };
  }
}

/**
 * Creates a live {@link EndpointSet}.
 *
 * @param opts - clock and EWMA settings.
 * @returns an empty set.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createEndpointSet } from '@dataplane/balancer';
 *
 * const set = createEndpointSet();
 * set.upsert({ id: 'a', address: '10.0.0.1:8080', zone: 'eu-west-1a' });
 * set.onStart('a');
 * set.onEnd('a', 12, true);
 * set.statsOf('a').ewmaLatencyMs; // 12
 * ```
 * @since 0.1.0
 */
export function createEndpointSet(opts: EndpointSetOptions = {}): EndpointSet {
  return new EndpointSetImpl(opts);
}
