import { BalancerError } from '../errors.js';
import { ensureCapacity, markUniform, newCandidates } from './types.js';
import type { CandidateSource, Candidates, PickerContext, PickerFactory, SlotPicker } from './types.js';

/**
 * Options of {@link zoneAware}.
 *
 * @since 0.1.0
 */
export interface ZoneAwareOptions {
  /** The caller's own zone. */
  localZone: string;
  /**
   * Share of the calling clients in each zone (any positive scale: counts or percentages). Envoy reads it from
   * the local cluster's membership. @defaultValue the upstream shares (every caller then stays in its zone)
   */
  callerZoneShares?: Readonly<Record<string, number>> | undefined;
  /** Below this many upstream candidates zone-aware routing is off (Envoy's `min_cluster_size`). @defaultValue 6 */
  minClusterSize?: number | undefined;
}

/** @internal The routing decision for the current candidates (exposed for tests through zoneRouting). */
export interface ZoneRouting {
  /** 'all' = no zone-aware routing; 'direct' = all local; 'residual' = local share then spill. */
  mode: 'all' | 'direct' | 'residual';
  /** Fraction of traffic kept in the local zone. */
  localFraction: number;
  /** Fractions of all traffic to each zone. */
  shares: Record<string, number>;
}

/**
 * Envoy's zone-aware routing decision, as a pure function.
 *
 * @remarks
 * Let `u[z]` be the share of upstream candidates in zone `z` and `c[z]` the share of callers. When the cluster is
 * smaller than `minClusterSize` or the local zone has no candidate, traffic goes to all candidates. When
 * `u[local] >= c[local]`, everything stays local. Otherwise `u[local] / c[local]` stays local and the rest spills to
 * the other zones in proportion to their residual capacity `max(0, u[z] - c[z])`.
 *
 * @param upstreamCounts - candidates per zone.
 * @param callerShares - callers per zone (any scale).
 * @param localZone - the caller's zone.
 * @param minClusterSize - Envoy's `min_cluster_size`. @defaultValue 6
 * @returns the decision with the share of all traffic per zone.
 * @example
 * ```ts
 * import { zoneRouting } from '@dataplane/balancer';
 *
 * zoneRouting({ A: 1, B: 2, C: 1 }, { A: 40, B: 40, C: 20 }, 'A', 0).shares; // { A: 0.625, B: 0.25, C: 0.125 }
 * ```
 * @since 0.1.0
 */
export function zoneRouting(
  upstreamCounts: Readonly<Record<string, number>>,
  callerShares: Readonly<Record<string, number>>,
  localZone: string,
  minClusterSize = 6,
): ZoneRouting {
  let total = 0;
  for (const z in upstreamCounts) total += upstreamCounts[z]!;
  const proportional = (): Record<string, number> => {
    const s: Record<string, number> = {};
    for (const z in upstreamCounts) s[z] = total > 0 ? upstreamCounts[z]! / total : 0;
    return s;
  };
  const localCount = upstreamCounts[localZone] ?? 0;
  if (total === 0 || total < minClusterSize || localCount === 0) {
    return { mode: 'all', localFraction: total > 0 ? localCount / total : 0, shares: proportional() };
  }
  let callerTotal = 0;
  for (const z in callerShares) callerTotal += Math.max(0, callerShares[z]!);
  const u = (z: string): number => (upstreamCounts[z] ?? 0) / total;
  const c = (z: string): number => (callerTotal > 0 ? Math.max(0, callerShares[z] ?? 0) / callerTotal : 0);
  const shares: Record<string, number> = {};
  for (const z in upstreamCounts) shares[z] = 0;
  if (u(localZone) >= c(localZone)) {
    shares[localZone] = 1;
    return { mode: 'direct', localFraction: 1, shares };
  }
  const localFraction = u(localZone) / c(localZone);
  let residualTotal = 0;
  for (const z in upstreamCounts) if (z !== localZone) residualTotal += Math.max(0, u(z) - c(z));
  shares[localZone] = localFraction;
  for (const z in upstreamCounts) {
    if (z === localZone) continue;
    const r = Math.max(0, u(z) - c(z));
    // residual capacity is positive somewhere whenever the local zone is short (shares sum to 1)
    shares[z] = residualTotal > 0 ? ((1 - localFraction) * r) / residualTotal : 0;
  }
  return { mode: 'residual', localFraction, shares };
}

class ZoneSource implements CandidateSource {
  readonly c: Candidates = newCandidates(8);
  current(): Candidates {
    return this.c;
  }
}

/**
 * Envoy's zone-aware routing in front of an inner picker: keeps traffic in the caller's zone while that zone has
 * enough capacity for its callers, and spills the excess to zones with residual capacity (see
 * {@link zoneRouting}). The inner picker runs separately per zone.
 *
 * @param inner - the algorithm used inside the chosen zone (and over all candidates when zone routing is off).
 * @param opts - the local zone, caller distribution and minimum cluster size.
 * @returns the picker factory.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, p2c, zoneAware } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), zoneAware(p2c(), { localZone: 'eu-west-1a' }));
 * ```
 * @since 0.1.0
 */
export function zoneAware(inner: PickerFactory, opts: ZoneAwareOptions): PickerFactory {
  if (typeof opts !== 'object' || opts === null || typeof opts.localZone !== 'string') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'zoneAware needs { localZone: string }');
  }
  const minSize = opts.minClusterSize ?? 6;
  if (!(minSize >= 0) || !Number.isFinite(minSize)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'minClusterSize must be a finite number >= 0');
  }
  const local = opts.localZone;
  return {
    name: `zoneAware(${inner.name})`,
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      const all = inner.bind(source, ctx);
      const zones = new Map<string, { src: ZoneSource; picker: SlotPicker }>();
      let seen = -1;
      let mode: ZoneRouting['mode'] = 'all';
      let localFraction = 1;
      let localPicker: SlotPicker = all;
      let remotePickers: SlotPicker[] = [];
      let remoteCum = new Float64Array(0);
      const refresh = (c: Candidates): void => {
        seen = c.version;
        const counts: Record<string, number> = {};
        for (const z of zones.values()) z.src.c.count = 0;
        for (let i = 0; i < c.count; i++) {
          const zone = ctx.core.bySlot[c.slots[i]!]!.zone ?? '';
          counts[zone] = (counts[zone] ?? 0) + 1;
          let entry = zones.get(zone);
          if (entry === undefined) {
            const src = new ZoneSource();
            entry = { src, picker: inner.bind(src, ctx) };
            zones.set(zone, entry);
          }
          const zc = entry.src.c;
          ensureCapacity(zc, zc.count + 1);
          zc.slots[zc.count] = c.slots[i]!;
          zc.weights[zc.count++] = c.weights[i]!;
        }
        for (const z of zones.values()) {
          markUniform(z.src.c);
          z.src.c.version++;
        }
        const routing = zoneRouting(counts, opts.callerZoneShares ?? counts, local, minSize);
        mode = routing.mode;
        localFraction = routing.localFraction;
        localPicker = zones.get(local)?.picker ?? all;
        remotePickers = [];
        const cum: number[] = [];
        let acc = 0;
        for (const [z, share] of Object.entries(routing.shares)) {
          if (z === local || share <= 0) continue;
          acc += share;
          cum.push(acc);
          remotePickers.push(zones.get(z)!.picker);
        }
        remoteCum = Float64Array.from(cum);
      };
      return {
        pickSlot(): number {
          const c = source.current();
          if (c.version !== seen) refresh(c);
          if (mode === 'all') return all.pickSlot();
          if (mode === 'direct') return localPicker.pickSlot();
          const u = ctx.random();
          if (u < localFraction || remotePickers.length === 0) return localPicker.pickSlot();
          const target = u - localFraction;
          const n = remotePickers.length;
          for (let i = 0; i < n - 1; i++) if (target < remoteCum[i]!) return remotePickers[i]!.pickSlot();
          return remotePickers[n - 1]!.pickSlot();
        },
      };
    },
  };
}
