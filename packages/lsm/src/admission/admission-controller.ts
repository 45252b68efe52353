import { LsmError } from '../errors.js';

/** What an operation is, for gates that apply to only one kind. */
export type AdmissionKind = 'write' | 'query';

/** One gate: a measured value against a limit. */
export interface AdmissionGateOptions {
  /** Name shown in stats() and in errors, e.g. `'memory'`, `'level0'`, `'walLag'`, `'logLag'`. */
  name: string;
  /** The gate closes when `read()` is above this value. */
  limit: number;
  /**
   * Once closed, the gate reopens when the value is at or below this (hysteresis, so it does not flap).
   * @defaultValue 0.9 * limit
   */
  resumeAt?: number | undefined;
  /** Reads the current value (bytes, files, records…). Must be cheap and must not throw. */
  read: () => number;
  /** Which operations the gate refuses. @defaultValue ['write', 'query'] */
  appliesTo?: readonly AdmissionKind[] | undefined;
}

/** Options of {@link createAdmissionController}. */
export interface AdmissionControllerOptions {
  /** The gates. Names must be unique. */
  gates: readonly AdmissionGateOptions[];
  /** Values are re-read at most this often; between reads the last sample decides. @defaultValue 10 */
  sampleMs?: number | undefined;
  /** Retry-after hint when the drain rate of a gate is unknown. @defaultValue 100 */
  retryAfterMs?: number | undefined;
  /** Largest retry-after hint. @defaultValue 5000 */
  maxRetryAfterMs?: number | undefined;
  /** Clock in milliseconds. @defaultValue performance.now */
  clock?: (() => number) | undefined;
}

/** State of one gate in {@link AdmissionStats}. */
export interface AdmissionGateStats {
  value: number;
  limit: number;
  resumeAt: number;
  open: boolean;
  /** Operations this gate refused. */
  refused: number;
  /** Times the gate closed. */
  trips: number;
  /** Measured drain rate in units per second (0 when not draining). */
  drainPerSec: number;
}

/** A plain snapshot of an {@link AdmissionController}. */
export interface AdmissionStats {
  admitted: number;
  refused: number;
  gates: Record<string, AdmissionGateStats>;
}

/** Admission control: refuse new work early, with a retry hint, instead of slowing everything down. */
export interface AdmissionController {
  /**
   * Admits one operation or throws.
   *
   * @throws LsmError `LSM_OVERLOADED` (retryable, with `retryAfterMs`) when a gate that applies is closed.
   */
  admit(kind: AdmissionKind): void;
  /** The first closed gate that applies to `kind`, or `undefined`, without counting an operation. */
  blockedBy(kind: AdmissionKind): string | undefined;
  /** A plain snapshot of every gate. */
  stats(): AdmissionStats;
}

interface GateState {
  opts: AdmissionGateOptions;
  resumeAt: number;
  write: boolean;
  query: boolean;
  value: number;
  open: boolean;
  refused: number;
  trips: number;
  lastT: number;
  lastV: number;
  drain: number;
}

/**
 * Creates an admission controller over a set of gates (memory, level-0 backlog, WAL lag, log lag…).
 *
 * @remarks
 * A gate closes when its value goes above `limit` and reopens at `resumeAt` or below. While closed it
 * refuses the kinds it applies to with a typed, retryable error whose `retryAfterMs` is estimated from the
 * gate's measured drain rate (time to get back to `resumeAt`), clamped to `[1, maxRetryAfterMs]`.
 *
 * @param options - gates, sampling period, retry hints, clock.
 * @returns the controller.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad limit, duplicate name or bad option.
 * @example
 * ```ts
 * import { createAdmissionController, LsmError } from '@dataplane/lsm';
 *
 * const ac = createAdmissionController({
 *   gates: [{ name: 'memory', limit: 512 * 2 ** 20, read: () => process.memoryUsage.rss() }],
 * });
 * try {
 *   ac.admit('write');
 * } catch (err) {
 *   if (LsmError.is(err, 'LSM_OVERLOADED')) console.log('retry in', err.retryAfterMs);
 * }
 * ```
 * @since 0.1.0
 */
export function createAdmissionController(options: AdmissionControllerOptions): AdmissionController {
  if (options == null || !Array.isArray(options.gates)) throw new LsmError('LSM_INVALID_ARGUMENT', 'gates must be an array');
  const sampleMs = nonNegative('sampleMs', options.sampleMs, 10);
  const retryAfterMs = nonNegative('retryAfterMs', options.retryAfterMs, 100);
  const maxRetryAfterMs = nonNegative('maxRetryAfterMs', options.maxRetryAfterMs, 5000);
  const clock = options.clock ?? (() => performance.now());
  const names = new Set<string>();
  const gates: GateState[] = options.gates.map((g) => {
    if (typeof g?.name !== 'string' || g.name === '' || names.has(g.name)) {
      throw new LsmError('LSM_INVALID_ARGUMENT', `gate names must be unique non-empty strings, got ${JSON.stringify(g?.name)}`);
    }
    names.add(g.name);
    if (!Number.isFinite(g.limit)) throw new LsmError('LSM_INVALID_ARGUMENT', `gate ${g.name}: limit must be a finite number`);
    if (typeof g.read !== 'function') throw new LsmError('LSM_INVALID_ARGUMENT', `gate ${g.name}: read must be a function`);
    const resumeAt = g.resumeAt ?? 0.9 * g.limit;
    if (!Number.isFinite(resumeAt) || resumeAt > g.limit) {
      throw new LsmError('LSM_INVALID_ARGUMENT', `gate ${g.name}: resumeAt must be a finite number <= limit`);
    }
    const kinds = g.appliesTo ?? ['write', 'query'];
    return {
      opts: g,
      resumeAt,
      write: kinds.includes('write'),
      query: kinds.includes('query'),
      value: 0,
      open: true,
      refused: 0,
      trips: 0,
      lastT: Number.NaN,
      lastV: 0,
      drain: 0,
    };
  });
  let sampledAt = Number.NEGATIVE_INFINITY;
  let admitted = 0;
  let refused = 0;

  function sample() {
    const now = clock();
    if (now - sampledAt < sampleMs) return;
    sampledAt = now;
    for (const g of gates) {
      let v = Number(g.opts.read());
      if (Number.isNaN(v)) v = g.value;
      if (!Number.isNaN(g.lastT) && now > g.lastT) {
        const rate = ((g.lastV - v) * 1000) / (now - g.lastT);
        g.drain = rate > 0 ? (g.drain === 0 ? rate : 0.7 * g.drain + 0.3 * rate) : g.drain * 0.5;
      }
      g.lastT = now;
      g.lastV = v;
      g.value = v;
      if (g.open && v > g.opts.limit) {
        g.open = false;
        g.trips++;
      } else if (!g.open && v <= g.resumeAt) {
        g.open = true;
      }
    }
  }

  function firstClosed(kind: AdmissionKind): GateState | undefined {
    sample();
    for (const g of gates) if (!g.open && (kind === 'write' ? g.write : g.query)) return g;
    return undefined;
  }

  function hint(g: GateState): number {
    if (g.drain <= 0) return retryAfterMs;
    const ms = ((g.value - g.resumeAt) * 1000) / g.drain;
    return Math.max(1, Math.min(maxRetryAfterMs, Math.ceil(ms)));
  }

  return {
    admit(kind) {
      if (kind !== 'write' && kind !== 'query') throw new LsmError('LSM_INVALID_ARGUMENT', `kind must be 'write' or 'query'`);
      const g = firstClosed(kind);
      if (g === undefined) {
        admitted++;
        return;
      }
      g.refused++;
      refused++;
      throw new LsmError('LSM_OVERLOADED', `${kind} refused: gate ${g.opts.name} is at ${g.value} (limit ${g.opts.limit})`, {
        retryable: true,
        retryAfterMs: hint(g),
      });
    },
    blockedBy(kind) {
      return firstClosed(kind)?.opts.name;
    },
    stats() {
      sample();
      const out: Record<string, AdmissionGateStats> = {};
      for (const g of gates) {
        out[g.opts.name] = {
          value: g.value,
          limit: g.opts.limit,
          resumeAt: g.resumeAt,
          open: g.open,
          refused: g.refused,
          trips: g.trips,
          drainPerSec: g.drain,
        };
      }
      return { admitted, refused, gates: out };
    },
  };
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new LsmError('LSM_INVALID_ARGUMENT', `${name} must be a non-negative number`);
  return v;
}
