import { createEndpointSet } from '../endpoints/endpoint-set.js';
import type { EndpointSet } from '../endpoints/types.js';
import { p2c, random, roundRobin, weighted } from '../pickers/basic.js';
import { createPicker } from '../pickers/create-picker.js';
import type { Picker, PickerFactory } from '../pickers/types.js';
import { zoneAware } from '../pickers/zone-aware.js';
import { createRng } from '../random/xoshiro.js';
import type { Rng } from '../random/xoshiro.js';
import type { ResolvedScenario, SimRouting } from './scenario.js';

/**
 * The outcome of one simulation run (one routing, one pod count).
 *
 * @since 0.1.0
 */
export interface SimRunResult {
  readonly routing: SimRouting;
  readonly pods: number;
  /** Requests measured (after warm-up). */
  readonly requests: number;
  /** Mean latency (time in system plus cross-zone delay) in ms. */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Max over mean of the requests served per pod, each divided by the pod's speed. */
  readonly skew: number;
  /** Share of requests that stayed in the caller's zone. */
  readonly localZoneShare: number;
}

/** @internal Splits `n` items by shares with the largest-remainder method. */
export function apportion(n: number, shares: readonly number[]): number[] {
  const total = shares.reduce((a, b) => a + b, 0);
  if (total <= 0) return shares.map((_, i) => (i === 0 ? n : 0));
  const exact = shares.map((s) => (s / total) * n);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]![1]]!++;
  return out;
}

/** @internal Percentile of a sorted array (nearest rank). */
export function percentileSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

function pickerFactory(routing: SimRouting, zone: string, callerShares: Record<string, number>): PickerFactory {
  switch (routing) {
    case 'round-robin':
      return roundRobin();
    case 'random':
      return random();
    case 'p2c':
      return p2c();
    case 'p2c-ewma':
      return p2c({ load: 'peak-ewma' });
    case 'weighted':
      return weighted();
    default:
      return zoneAware(p2c(), { localZone: zone, callerZoneShares: callerShares });
  }
}

/** Min-heap of (time, request) pairs in typed arrays. */
class EventHeap {
  time = new Float64Array(1024);
  req = new Int32Array(1024);
  size = 0;
  push(t: number, r: number): void {
    if (this.size === this.time.length) {
      const t2 = new Float64Array(this.size * 2);
      t2.set(this.time);
      const r2 = new Int32Array(this.size * 2);
      r2.set(this.req);
      this.time = t2;
      this.req = r2;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.time[parent]! <= t) break;
      this.time[i] = this.time[parent]!;
      this.req[i] = this.req[parent]!;
      i = parent;
    }
    this.time[i] = t;
    this.req[i] = r;
  }
  /** Removes the earliest event; read its fields first. */
  pop(): void {
    const n = --this.size;
    const t = this.time[n]!;
    const r = this.req[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.time[c + 1]! < this.time[c]!) c++;
      if (this.time[c]! >= t) break;
      this.time[i] = this.time[c]!;
      this.req[i] = this.req[c]!;
      i = c;
    }
    this.time[i] = t;
    this.req[i] = r;
  }
}

function serviceSampler(s: ResolvedScenario, rng: Rng): () => number {
  const mean = s.serviceMeanMs;
  if (s.serviceDistribution === 'constant') return () => mean;
  if (s.serviceDistribution === 'exponential') return () => rng.exponential(mean);
  // log-normal with sigma 1 and the given mean
  const sigma = 1;
  const mu = Math.log(mean) - (sigma * sigma) / 2;
  return () => {
    const u1 = 1 - rng.next();
    const u2 = rng.next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.exp(mu + sigma * z);
  };
}

/**
 * Runs one deterministic discrete-event simulation.
 *
 * @param s - a resolved scenario ({@link resolveScenario}).
 * @param routing - how requests are routed.
 * @param pods - pod count for this run. @defaultValue `s.pods`
 * @returns latency percentiles, skew and locality.
 * @example
 * ```ts
 * import { resolveScenario, simulateRun } from '@dataplane/balancer';
 *
 * const r = simulateRun(resolveScenario({ pods: 10, requests: 10_000 }), 'p2c');
 * console.log(r.p99Ms);
 * ```
 * @since 0.1.0
 */
export function simulateRun(s: ResolvedScenario, routing: SimRouting, pods = s.pods): SimRunResult {
  const rng = createRng(s.seed);
  const service = serviceSampler(s, rng);
  const zoneNames = s.zones.map((z) => z.name);
  // pods
  const podsPerZone = apportion(pods, s.zones.map((z) => z.podShare));
  const podZone = new Int32Array(pods);
  const podSpeed = new Float64Array(pods);
  for (let z = 0, p = 0; z < s.zones.length; z++) {
    for (let k = 0; k < podsPerZone[z]!; k++, p++) {
      podZone[p] = z;
      podSpeed[p] = s.zones[z]!.speed;
    }
  }
  const busy = new Int32Array(pods);
  const queues: number[][] = Array.from({ length: pods }, () => []);
  const heads = new Int32Array(pods);
  const served = new Float64Array(pods);
  // clients
  const clientsPerZone = apportion(s.clients, s.zones.map((z) => z.clientShare));
  const clientZone = new Int32Array(s.clients);
  for (let z = 0, c = 0; z < s.zones.length; z++) for (let k = 0; k < clientsPerZone[z]!; k++, c++) clientZone[c] = z;
  const clientCum = new Float64Array(s.clients);
  {
    let acc = 0;
    for (let c = 0; c < s.clients; c++) {
      const u1 = 1 - rng.next();
      const u2 = rng.next();
      const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      clientCum[c] = acc += Math.exp(s.clientRateSigma * z);
    }
  }
  const callerShares: Record<string, number> = {};
  for (let z = 0; z < s.zones.length; z++) callerShares[zoneNames[z]!] = clientsPerZone[z]!;
  // routing state
  const perConnection = routing === 'kube-proxy-random' || routing === 'kube-proxy-rr';
  const conns: Int32Array[] = [];
  let pickers: Picker[] = [];
  let sets: EndpointSet[] = [];
  const podIds = Array.from({ length: pods }, (_, p) => `pod-${p}`);
  let now = 0;
  if (perConnection) {
    let rr = Math.floor(rng.next() * pods);
    for (let c = 0; c < s.clients; c++) {
      const a = new Int32Array(s.connectionsPerClient);
      for (let k = 0; k < a.length; k++) a[k] = routing === 'kube-proxy-rr' ? rr++ % pods : Math.floor(rng.next() * pods);
      conns.push(a);
    }
  } else if (routing !== 'jsq') {
    sets = [];
    pickers = [];
    for (let c = 0; c < s.clients; c++) {
      const set = createEndpointSet({ clock: () => now });
      set.replaceAll(
        podIds.map((id, p) => ({ id, address: `${id}:80`, zone: zoneNames[podZone[p]!], weight: podSpeed[p]!, addedAt: -1e12 })),
      );
      sets.push(set);
      pickers.push(
        createPicker(set, pickerFactory(routing, zoneNames[clientZone[c]!]!, callerShares), {
          random: rng.next,
        }),
      );
    }
  }
  const podIndex = new Map(podIds.map((id, p) => [id, p]));
  let avgSpeed = 0;
  for (const z of s.zones) avgSpeed += z.speed * z.podShare;
  avgSpeed /= s.zones.reduce((a, z) => a + z.podShare, 0) || 1;
  const rate = (s.load * s.referencePods * s.podConcurrency * avgSpeed) / s.serviceMeanMs; // requests per ms
  const total = s.requests + s.warmupRequests;
  const reqStart = new Float64Array(total);
  const reqPod = new Int32Array(total);
  const reqClient = new Int32Array(total);
  const latencies = new Float64Array(s.requests);
  let measured = 0;
  let local = 0;
  const heap = new EventHeap();
  let nextArrival = rng.exponential(1 / rate);
  let arrived = 0;
  let done = 0;
  const start = (r: number, p: number): void => {
    busy[p]!++;
    heap.push(now + service() / podSpeed[p]!, r);
  };
  const route = (c: number): number => {
    if (perConnection) {
      const a = conns[c]!;
      return a[a.length === 1 ? 0 : Math.floor(rng.next() * a.length)]!;
    }
    if (routing === 'jsq') {
      let best = -1;
      let bestLoad = Infinity;
      const off = Math.floor(rng.next() * pods);
      for (let k = 0; k < pods; k++) {
        const p = (k + off) % pods;
        const l = (busy[p]! + queues[p]!.length - heads[p]! + 1) / podSpeed[p]!;
        if (l < bestLoad) {
          bestLoad = l;
          best = p;
        }
      }
      return best;
    }
    const ep = pickers[c]!.pick()!;
    return podIndex.get(ep.id)!;
  };
  while (done < total) {
    if (arrived < total && (heap.size === 0 || nextArrival <= heap.time[0]!)) {
      now = nextArrival;
      const u = rng.next() * clientCum[s.clients - 1]!;
      let lo = 0;
      let hi = s.clients - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (clientCum[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      const c = lo;
      const r = arrived++;
      const p = route(c);
      reqStart[r] = now;
      reqPod[r] = p;
      reqClient[r] = c;
      if (sets.length > 0) sets[c]!.onStart(podIds[p]!);
      if (busy[p]! < s.podConcurrency) start(r, p);
      else queues[p]!.push(r);
      nextArrival = now + rng.exponential(1 / rate);
      continue;
    }
    now = heap.time[0]!;
    const r = heap.req[0]!;
    heap.pop();
    done++;
    const p = reqPod[r]!;
    const c = reqClient[r]!;
    const cross = podZone[p] !== clientZone[c];
    const latency = now - reqStart[r]! + (cross ? s.crossZoneMs : 0);
    if (sets.length > 0) sets[c]!.onEnd(podIds[p]!, latency, true);
    if (r >= s.warmupRequests) {
      latencies[measured++] = latency;
      served[p] = served[p]! + 1 / podSpeed[p]!;
      if (!cross) local++;
    }
    busy[p]!--;
    const q = queues[p]!;
    if (heads[p]! < q.length) {
      const next = q[heads[p]!]!;
      heads[p]!++;
      if (heads[p]! > 1024 && heads[p]! * 2 > q.length) {
        q.splice(0, heads[p]!);
        heads[p] = 0;
      }
      start(next, p);
    }
  }
  for (const pk of pickers) pk.close();
  const sorted = latencies.subarray(0, measured).sort();
  let sum = 0;
  for (let i = 0; i < measured; i++) sum += sorted[i]!;
  let max = 0;
  let totalServed = 0;
  for (let p = 0; p < pods; p++) {
    totalServed += served[p]!;
    if (served[p]! > max) max = served[p]!;
  }
  return {
    routing,
    pods,
    requests: measured,
    meanMs: measured > 0 ? sum / measured : 0,
    p50Ms: percentileSorted(sorted, 50),
    p90Ms: percentileSorted(sorted, 90),
    p99Ms: percentileSorted(sorted, 99),
    skew: totalServed > 0 ? max / (totalServed / pods) : 0,
    localZoneShare: measured > 0 ? local / measured : 0,
  };
}
