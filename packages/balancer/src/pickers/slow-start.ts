import { BalancerError } from '../errors.js';
import { ensureCapacity, markUniform, newCandidates } from './types.js';
import type { CandidateSource, Candidates, PickerContext, PickerFactory, SlotPicker } from './types.js';

/**
 * Options of {@link slowStart} (Envoy's `slow_start_config`).
 *
 * @since 0.1.0
 */
export interface SlowStartOptions {
  /** How long a new endpoint ramps up, in milliseconds. */
  windowMs: number;
  /** Curve exponent: the factor is `(age / window) ^ (1 / aggression)`; 1 is linear. @defaultValue 1 */
  aggression?: number | undefined;
  /** Floor of the factor in percent. @defaultValue 10 */
  minWeightPercent?: number | undefined;
  /** How often weights are recomputed while some endpoint ramps, in ms. @defaultValue `windowMs / 50` */
  refreshMs?: number | undefined;
}

/**
 * Envoy's slow-start factor for an endpoint of age `ageMs`.
 *
 * @param ageMs - time since the endpoint was added.
 * @param opts - window, aggression, minimum weight percent.
 * @returns the multiplier of the endpoint's weight, in (0, 1].
 * @example
 * ```ts
 * import { slowStartFactor } from '@dataplane/balancer';
 *
 * slowStartFactor(5_000, { windowMs: 10_000 }); // 0.5
 * ```
 * @since 0.1.0
 */
export function slowStartFactor(ageMs: number, opts: SlowStartOptions): number {
  if (ageMs >= opts.windowMs) return 1;
  const aggression = opts.aggression ?? 1;
  const min = (opts.minWeightPercent ?? 10) / 100;
  const timeFactor = Math.max(1, ageMs) / opts.windowMs;
  return Math.max(min, Math.pow(timeFactor, 1 / aggression));
}

/**
 * Ramps the weight of newly added endpoints over a window (Envoy's slow start): weight times
 * `max(minWeightPercent / 100, (age / window) ^ (1 / aggression))`. Use a weight-aware inner picker
 * ({@link weighted}, {@link p2c}, {@link random}); {@link roundRobin} ignores weights.
 *
 * @param inner - the algorithm to feed ramped weights.
 * @param opts - Envoy's slow_start_config.
 * @returns the picker factory.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on invalid options.
 * @example
 * ```ts
 * import { createEndpointSet, createPicker, slowStart, weighted } from '@dataplane/balancer';
 *
 * const picker = createPicker(createEndpointSet(), slowStart(weighted(), { windowMs: 30_000 }));
 * ```
 * @since 0.1.0
 */
export function slowStart(inner: PickerFactory, opts: SlowStartOptions): PickerFactory {
  if (typeof opts !== 'object' || opts === null || !(opts.windowMs > 0) || !Number.isFinite(opts.windowMs)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'slowStart needs a positive finite windowMs');
  }
  const aggression = opts.aggression ?? 1;
  if (!(aggression > 0) || !Number.isFinite(aggression)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'aggression must be a positive finite number');
  }
  const minPct = opts.minWeightPercent ?? 10;
  if (!(minPct > 0 && minPct <= 100)) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'minWeightPercent must be in (0, 100]');
  }
  const refreshMs = opts.refreshMs ?? opts.windowMs / 50;
  return {
    name: `slowStart(${inner.name})`,
    bind(source: CandidateSource, ctx: PickerContext): SlotPicker {
      const out: Candidates = newCandidates(16);
      let seen = -1;
      let ramping = false;
      let nextAt = 0;
      const recompute = (c: Candidates, now: number): void => {
        seen = c.version;
        ensureCapacity(out, c.count);
        ramping = false;
        for (let i = 0; i < c.count; i++) {
          const s = c.slots[i]!;
          const age = now - ctx.core.bySlot[s]!.addedAt;
          if (age < opts.windowMs) ramping = true;
          out.slots[i] = s;
          out.weights[i] = c.weights[i]! * slowStartFactor(age, opts);
        }
        out.count = c.count;
        markUniform(out);
        out.version++;
        nextAt = now + refreshMs;
      };
      const src: CandidateSource = {
        current(): Candidates {
          const c = source.current();
          if (c.version !== seen) {
            recompute(c, ctx.core.now());
          } else if (ramping) {
            const now = ctx.core.now();
            if (now >= nextAt) recompute(c, now);
          }
          return out;
        },
      };
      return inner.bind(src, ctx);
    },
  };
}
