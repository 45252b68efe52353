import type { TsdbAggregation } from './types.js';

/** @internal Per-bucket aggregation of points sorted by time (ties allowed when pooling series). */
export function bucketize(ts: Float64Array, vs: Float64Array, from: number, step: number, agg: TsdbAggregation): { ts: Float64Array; vs: Float64Array } {
  const outT: number[] = [];
  const outV: number[] = [];
  const buf: number[] = [];
  let i = 0;
  const n = ts.length;
  while (i < n) {
    const b = from + Math.floor((ts[i]! - from) / step) * step;
    const end = b + step;
    let sum = 0;
    let cnt = 0;
    let min = Infinity;
    let max = -Infinity;
    let last = NaN;
    let lastT = -Infinity;
    let firstV = NaN;
    let firstT = NaN;
    let inc = 0;
    let prev = NaN;
    buf.length = 0;
    for (; i < n && ts[i]! < end; i++) {
      const v = vs[i]!;
      const t = ts[i]!;
      if (cnt === 0) {
        firstV = v;
        firstT = t;
      } else inc += v >= prev ? v - prev : v;
      prev = v;
      sum += v;
      cnt++;
      if (v < min) min = v;
      if (v > max) max = v;
      if (t >= lastT) {
        lastT = t;
        last = v;
      }
      if (agg === 'p50' || agg === 'p90' || agg === 'p99') buf.push(v);
    }
    let out: number;
    switch (agg) {
      case 'count': out = cnt; break;
      case 'sum': out = sum; break;
      case 'min': out = min; break;
      case 'max': out = max; break;
      case 'avg': out = sum / cnt; break;
      case 'last': out = last; break;
      case 'rate':
        if (cnt < 2 || lastT === firstT) continue;
        out = inc / ((lastT - firstT) / 1000);
        void firstV;
        break;
      default: {
        buf.sort((a, b) => a - b);
        const q = agg === 'p50' ? 0.5 : agg === 'p90' ? 0.9 : 0.99;
        out = buf[Math.min(buf.length - 1, Math.max(0, Math.ceil(q * buf.length) - 1))]!;
      }
    }
    outT.push(b);
    outV.push(out);
  }
  return { ts: Float64Array.from(outT), vs: Float64Array.from(outV) };
}

/** @internal Merges several time-sorted series into one time-sorted pool (ties kept). */
export function pool(parts: readonly { ts: Float64Array; vs: Float64Array }[]): { ts: Float64Array; vs: Float64Array } {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.ts.length;
  const idx = new Uint32Array(n);
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  let at = 0;
  for (const p of parts) {
    ts.set(p.ts, at);
    vs.set(p.vs, at);
    at += p.ts.length;
  }
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => ts[a]! - ts[b]! || a - b);
  const ot = new Float64Array(n);
  const ov = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    ot[j] = ts[idx[j]!]!;
    ov[j] = vs[idx[j]!]!;
  }
  return { ts: ot, vs: ov };
}

/** @internal Sums per-bucket series (used to combine per-series rates in a group). */
export function sumByBucket(parts: readonly { ts: Float64Array; vs: Float64Array }[]): { ts: Float64Array; vs: Float64Array } {
  const m = new Map<number, number>();
  for (const p of parts) for (let i = 0; i < p.ts.length; i++) m.set(p.ts[i]!, (m.get(p.ts[i]!) ?? 0) + p.vs[i]!);
  const keys = [...m.keys()].sort((a, b) => a - b);
  return { ts: Float64Array.from(keys), vs: Float64Array.from(keys, (k) => m.get(k)!) };
}
