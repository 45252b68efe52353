import { BalancerError } from '../errors.js';
import { ensureCapacity, markUniform, newCandidates } from './types.js';
import type { CandidateSource, Candidates, PickerContext, PickerFactory, SlotPicker } from './types.js';

/**
 * Options of {@link outlierAware} (Envoy's outlier_detection).
 *
 * @since 0.1.0
 */
export interface OutlierOptions {
  /** Consecutive failures that eject an endpoint at once; 0 disables. @defaultValue 5 */
  consecutiveFailures?: number | undefined;
  /** Success-rate analysis interval in ms. @defaultValue 10000 */
  intervalMs?: number | undefined;
  /** Base ejection time; the n-th ejection lasts `n * baseEjectionMs`. @defaultValue 30000 */
  baseEjectionMs?: number | undefined;
  /** Cap of the ejection time. @defaultValue 300000 */
  maxEjectionMs?: number | undefined;
  /** At most this share of candidates is ejected (at least one is always allowed). @defaultValue 10 */
  maxEjectionPercent?: number | undefined;
  /** Requests per interval for an endpoint to take part in success-rate analysis. @defaultValue 100 */
  successRateRequestVolume?: number | undefined;
  /** Endpoints with enough volume needed to run success-rate analysis. @defaultValue 5 */
  successRateMinimumHosts?: number | undefined;
  /** Ejects below `mean - stdevFactor * stdev` of the success rates. @defaultValue 1.9 */
  successRateStdevFactor?: number | undefined;
  /** When fewer than this share of candidates remain un-ejected, ejections are ignored. @defaultValue 50 */
  panicThresholdPercent?: number | undefined;
}

function num(v: number | undefined, def: number, name: string, min: number): number {
  const x = v ?? def;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `${name} must be a finite number >= ${min}`);
  }
  return x;
}

/**
 * Outlier detection in front of an inner picker: ejects endpoints after consecutive failures or when their
 * success rate falls below `mean - stdevFactor * stdev` of the others (evaluated every `intervalMs`, lazily on
 * picks). An endpoint's n-th ejection lasts `min(n * baseEjectionMs, maxEjectionMs)`. No more than
 * `maxEjectionPercent` of the candidates is ejected; when fewer than `panicThresholdPercent` remain, ejections are
 * ignored (panic).
 *
 * @param inner - the algorithm over the non-ejected candidates.
 * @param opts - Envoy's outlier_detection settings.
 * @returns the picker factory.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, outlierAware, p2c } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), outlierAware(p2c(), { consecutiveFailures: 3 }));
 * ```
 * @since 0.1.0
 */
export function outlierAware(inner: PickerFactory, opts: OutlierOptions = {}): PickerFactory {
  const consecutive = num(opts.consecutiveFailures, 5, 'consecutiveFailures', 0);
  const intervalMs = num(opts.intervalMs, 10_000, 'intervalMs', 1);
  const baseMs = num(opts.baseEjectionMs, 30_000, 'baseEjectionMs', 0);
  const maxMs = num(opts.maxEjectionMs, 300_000, 'maxEjectionMs', 0);
  const maxPct = num(opts.maxEjectionPercent, 10, 'maxEjectionPercent', 0);
  const volume = num(opts.successRateRequestVolume, 100, 'successRateRequestVolume', 1);
  const minHosts = num(opts.successRateMinimumHosts, 5, 'successRateMinimumHosts', 1);
  const factor = num(opts.successRateStdevFactor, 1.9, 'successRateStdevFactor', 0);
  const panicPct = num(opts.panicThresholdPercent, 50, 'panicThresholdPercent', 0);
  return {
    name: `outlierAware(${inner.name})`,
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      const { core } = ctx;
      let ejectedUntil: Float64Array<ArrayBuffer> = new Float64Array(16);
      let ejections = new Float64Array(16);
      let okCount = new Float64Array(16);
      let allCount = new Float64Array(16);
      let consec = new Float64Array(16);
      const ids: (string | undefined)[] = [];
      const out: Candidates = newCandidates(16);
      let seen = -1;
      let dirty = true;
      let nextUneject = Infinity;
      let nextInterval = core.now() + intervalMs;
      let ejectedNow = 0;
      let lastCount = 0;
      const fit = (slot: number): void => {
        if (slot < ejectedUntil.length) return;
        const n = Math.max(slot + 1, ejectedUntil.length * 2);
        const g = (a: Float64Array): Float64Array<ArrayBuffer> => {
          const b = new Float64Array(n);
          b.set(a);
          return b;
        };
        ejectedUntil = g(ejectedUntil);
        ejections = g(ejections);
        okCount = g(okCount);
        allCount = g(allCount);
        consec = g(consec);
      };
      const owned = (slot: number): void => {
        // a reused slot belongs to a new endpoint: forget the old one's history
        const id = core.bySlot[slot]?.id;
        if (ids[slot] !== id) {
          ids[slot] = id;
          ejectedUntil[slot] = 0;
          ejections[slot] = 0;
          okCount[slot] = 0;
          allCount[slot] = 0;
          consec[slot] = 0;
        }
      };
      const canEject = (): boolean => ejectedNow + 1 <= Math.max(1, Math.floor((lastCount * maxPct) / 100));
      const eject = (slot: number, now: number): void => {
        if (ejectedUntil[slot]! > now || !canEject()) return;
        ejections[slot]!++;
        const until = now + Math.min(maxMs, baseMs * ejections[slot]!);
        ejectedUntil[slot] = until;
        if (until < nextUneject) nextUneject = until;
        ejectedNow++;
        dirty = true;
      };
      const off = core.addOutcomeListener((slot, ok) => {
        fit(slot);
        owned(slot);
        allCount[slot]!++;
        if (ok) {
          okCount[slot]!++;
          consec[slot] = 0;
        } else if (consecutive > 0 && ++consec[slot]! >= consecutive) {
          consec[slot] = 0;
          eject(slot, core.now());
        }
      });
      ctx.onClose(off);
      const successRate = (c: Candidates, now: number): void => {
        let n = 0;
        let sum = 0;
        let sq = 0;
        for (let i = 0; i < c.count; i++) {
          const s = c.slots[i]!;
          fit(s);
          owned(s);
          if (allCount[s]! >= volume && !(ejectedUntil[s]! > now)) {
            const r = okCount[s]! / allCount[s]!;
            n++;
            sum += r;
            sq += r * r;
          }
        }
        if (n >= minHosts) {
          const mean = sum / n;
          const stdev = Math.sqrt(Math.max(0, sq / n - mean * mean));
          const threshold = mean - factor * stdev;
          for (let i = 0; i < c.count; i++) {
            const s = c.slots[i]!;
            if (allCount[s]! >= volume && okCount[s]! / allCount[s]! < threshold) eject(s, now);
          }
        }
        for (let i = 0; i < c.count; i++) {
          const s = c.slots[i]!;
          okCount[s] = 0;
          allCount[s] = 0;
        }
      };
      const rebuild = (c: Candidates, now: number): void => {
        ensureCapacity(out, c.count);
        lastCount = c.count;
        let n = 0;
        ejectedNow = 0;
        nextUneject = Infinity;
        for (let i = 0; i < c.count; i++) {
          const s = c.slots[i]!;
          fit(s);
          owned(s);
          const until = ejectedUntil[s]!;
          if (until > now) {
            ejectedNow++;
            if (until < nextUneject) nextUneject = until;
            continue;
          }
          out.slots[n] = s;
          out.weights[n++] = c.weights[i]!;
        }
        if (c.count > 0 && n * 100 < panicPct * c.count) {
          // panic: ignore ejections
          n = c.count;
          out.slots.set(c.slots.subarray(0, n));
          out.weights.set(c.weights.subarray(0, n));
        }
        out.count = n;
        markUniform(out);
        out.version++;
      };
      const src: CandidateSource = {
        current(): Candidates {
          const c = source.current();
          const now = core.now();
          if (now >= nextInterval) {
            nextInterval = now + intervalMs;
            successRate(c, now);
          }
          if (dirty || c.version !== seen || now >= nextUneject) {
            dirty = false;
            seen = c.version;
            rebuild(c, now);
          }
          return out;
        },
      };
      return inner.bind(src, ctx);
    },
  };
}
