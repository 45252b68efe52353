import { LsmError } from '../errors.js';
import { BitReader } from './bit-stream.js';
import { CHUNK_HEADER, CODEC_GORILLA, CODEC_PACKED, CODEC_PACKED_SUM, MAX_CHUNK_POINTS, decodeChunk } from './chunk.js';
import { POW10, packedDecode, readFrames, readSigned, skipSumFrame } from './decimal-codec.js';
import { gorillaDecode } from './gorilla.js';
import type { TsdbAggregation, ValueFilter } from './types.js';

/**
 * @internal Query-side execution helpers: the parts of one series in a time range (stored chunks and
 * head points), read either streaming (parts that do not overlap in time: decoded one after the other
 * into reusable scratch arrays, no merge) or merged (overlapping parts: out-of-order writes, duplicates),
 * and a per-step aggregator that folds points straight into per-bucket accumulators (no pooling, no
 * per-point allocation).
 */

/** Scratch for reading a little-endian float64 out of chunk bytes without a DataView per chunk. */
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The little-endian float64 at `b[off]`. */
function readF64(b: Uint8Array, off: number): number {
  if (littleEndian) for (let i = 0; i < 8; i++) f64Bytes[i] = b[off + i]!;
  else for (let i = 0; i < 8; i++) f64Bytes[7 - i] = b[off + i]!;
  return f64[0]!;
}

/** The little-endian uint32 at `b[off]`. */
function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 0x1000000;
}

/** One stored chunk (still encoded) or the head's points of one series. */
export interface ScanPart {
  /** Write order (chunk flush sequence; the head is newest). Larger wins on equal timestamps. */
  order: number;
  /** First and last timestamp. */
  min: number;
  max: number;
  /** Encoded chunk bytes, or undefined for decoded points (`ts`/`vs`). */
  bytes: Uint8Array | undefined;
  ts: Float64Array | undefined;
  vs: Float64Array | undefined;
}

/** A receiver of points sorted by time, in runs `[lo, hi)` of typed arrays (arrays may be reused after the call). */
export type PointSink = (ts: Float64Array, vs: Float64Array, lo: number, hi: number) => void;

/** The header time range of an encoded chunk (validated by the decoder later). */
export function chunkPart(order: number, bytes: Uint8Array): ScanPart {
  if (bytes.length < CHUNK_HEADER) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk shorter than its header');
  return { order, min: readF64(bytes, 5), max: readF64(bytes, 13), bytes, ts: undefined, vs: undefined };
}

/** A decoded part (sorted, deduplicated points; at least one). */
export function pointsPart(order: number, ts: Float64Array, vs: Float64Array): ScanPart {
  return { order, min: ts[0]!, max: ts[ts.length - 1]!, bytes: undefined, ts, vs };
}

/**
 * Reusable decode buffers. One shared instance serves every query: a scan decodes a chunk and hands
 * its points to the sink within one synchronous call, so no two scans ever hold it at once.
 */
export class Scratch {
  ts = new Float64Array(1024);
  vs = new Float64Array(1024);

  ensure(n: number): void {
    if (this.ts.length >= n) return;
    let cap = this.ts.length;
    while (cap < n) cap *= 2;
    this.ts = new Float64Array(cap);
    this.vs = new Float64Array(cap);
  }
}

/** The shared decode buffers. */
export const scratch = new Scratch();
/** The shared buffers of value-filtered points (see {@link filterSink}). */
const filtered = new Scratch();

/**
 * Decodes a chunk. Gorilla and packed chunks decode into `s` (no allocation); other codecs through
 * {@link decodeChunk}. Returns the arrays holding the points and their count.
 */
export function decodeInto(c: Uint8Array, s: Scratch): { ts: Float64Array; vs: Float64Array; n: number } {
  const codec = c[0];
  if (codec !== CODEC_GORILLA && codec !== CODEC_PACKED_SUM && codec !== CODEC_PACKED) {
    const d = decodeChunk(c);
    return { ts: d.ts, vs: d.vs, n: d.ts.length };
  }
  if (c.length < CHUNK_HEADER) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk shorter than its header');
  const n = readU32(c, 1);
  if (n > MAX_CHUNK_POINTS || n === 0) throw new LsmError('LSM_CORRUPT_BLOCK', `chunk count ${n} is implausible`);
  s.ensure(n);
  try {
    if (codec === CODEC_GORILLA) gorillaDecode(new BitReader(c, CHUNK_HEADER), n, s.ts, s.vs, 0);
    else packedDecode(new BitReader(c, CHUNK_HEADER), n, s.ts, s.vs, 0, codec === CODEC_PACKED_SUM);
  } catch (err) {
    throw new LsmError('LSM_CORRUPT_BLOCK', `chunk does not decode: ${(err as Error).message}`, { cause: err });
  }
  if (s.ts[0] !== readF64(c, 5) || s.ts[n - 1] !== readF64(c, 13)) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk header time range does not match its points');
  return { ts: s.ts, vs: s.vs, n };
}

/** True for the packed codecs that {@link packedDecodeUntil} reads (3 and 4). */
export function isPacked(codec: number | undefined): boolean {
  return codec === CODEC_PACKED_SUM || codec === CODEC_PACKED;
}

/**
 * Decodes the points of a packed chunk (codec 4 or 3, `packedDecode`'s layout) with time `< to` into
 * `s`, without reading the values past them (every timestamp is read: they come first). Whole frames
 * of values that end before the first point `>= from` are skipped (codec 4: their stored sum, O(1) a
 * frame) or summed (codec 3); their points' values are left unset: callers read from the first point
 * `>= from`. Returns the count of points `< to`.
 */
export function packedDecodeUntil(c: Uint8Array, from: number, to: number, s: Scratch): number {
  if (c.length < CHUNK_HEADER) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk shorter than its header');
  const n = readU32(c, 1);
  const codec = c[0];
  if (!isPacked(codec)) throw new LsmError('LSM_CORRUPT_BLOCK', `chunk codec ${codec} is not a packed codec`);
  if (n > MAX_CHUNK_POINTS || n === 0) throw new LsmError('LSM_CORRUPT_BLOCK', `chunk count ${n} is implausible`);
  const sums = codec === CODEC_PACKED_SUM;
  s.ensure(n);
  const ts = s.ts;
  const vs = s.vs;
  let m = 1;
  try {
    const r = new BitReader(c, CHUNK_HEADER);
    const p = POW10[r.read(3)];
    if (p === undefined) throw new RangeError('bad decimal scale');
    let t = readSigned(r);
    ts[0] = t;
    let lo = t >= from ? 0 : -1;
    if (n > 1) {
      let d = readSigned(r);
      readFrames(r, ts, 2, n - 2, false);
      t += d;
      if (t < to) {
        ts[1] = t;
        m = 2;
        if (lo < 0 && t >= from) lo = 1;
        for (let i = 2; i < n; i++) {
          d += ts[i]!;
          t += d;
          if (t >= to) break;
          ts[i] = t;
          if (lo < 0 && t >= from) lo = i;
          m++;
        }
      }
    }
    if (lo < 0) lo = m;
    // values: k0, then frames of the n - 1 deltas (delta j makes point j + 1)
    let k = readSigned(r);
    const nd = n - 1;
    const need = m - 1;
    let b = 0;
    for (; b < need; b += 128) {
      const e = b + 128 < nd ? b + 128 : nd;
      if (e > lo - 1) break; // this frame feeds a point >= from: decode it below
      if (sums) {
        k += skipSumFrame(r, e - b);
        continue;
      }
      const base = readSigned(r);
      const width = r.read(6);
      if (width > 52) throw new RangeError('corrupt frame width');
      let sum = base * (e - b);
      if (width > 32) for (let i = b; i < e; i++) sum += r.readWide(width);
      else if (width > 0) for (let i = b; i < e; i++) sum += r.read(width);
      k += sum;
    }
    if (b < m) {
      // k is now the value of point b
      vs[b] = k / p;
      readFrames(r, vs, b + 1, nd - b, sums, need - b);
      for (let i = b + 1; i < m; i++) {
        k += vs[i]!;
        vs[i] = k / p;
      }
    }
  } catch (err) {
    throw new LsmError('LSM_CORRUPT_BLOCK', `chunk does not decode: ${(err as Error).message}`, { cause: err });
  }
  if (ts[0] !== readF64(c, 5) || (m === n && ts[n - 1] !== readF64(c, 13))) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk header time range does not match its points');
  return m;
}

/** First index in `ts[lo, hi)` with `ts[i] >= x` (sorted `ts`). */
export function lowerBound(ts: Float64Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when the parts, sorted by `min`, do not overlap in time (then no merge or dedup is needed). */
export function disjoint(parts: ScanPart[]): boolean {
  if (parts.length > 1) parts.sort((a, b) => a.min - b.min || a.order - b.order);
  for (let i = 1; i < parts.length; i++) if (parts[i]!.min <= parts[i - 1]!.max) return false;
  return true;
}

/**
 * Streams the points of one series in `[from, to)` to `sink`, in time order, duplicates resolved.
 * Disjoint parts are decoded one at a time (only those overlapping the range); overlapping parts are
 * decoded, merged (larger `order` wins on equal timestamps) and clipped. Returns the points streamed.
 */
export function scanSeries(parts: ScanPart[], from: number, to: number, s: Scratch, sink: PointSink, onDecode: () => void): number {
  if (parts.length === 0) return 0;
  let total = 0;
  if (disjoint(parts)) {
    for (const p of parts) {
      if (p.max < from || p.min >= to) continue;
      let ts: Float64Array;
      let vs: Float64Array;
      let n: number;
      if (p.bytes !== undefined) {
        // a packed chunk that runs past the range: values past `to` are never read, those before `from` only summed
        if ((p.max >= to || p.min < from) && isPacked(p.bytes[0])) {
          n = packedDecodeUntil(p.bytes, from, to, s);
          ts = s.ts;
          vs = s.vs;
        } else ({ ts, vs, n } = decodeInto(p.bytes, s));
        onDecode();
      } else {
        ts = p.ts!;
        vs = p.vs!;
        n = ts.length;
      }
      const lo = p.min >= from ? 0 : lowerBound(ts, 0, n, from);
      const hi = p.max < to ? n : lowerBound(ts, lo, n, to);
      if (hi > lo) {
        sink(ts, vs, lo, hi);
        total += hi - lo;
      }
    }
    return total;
  }
  const decoded: { order: number; ts: Float64Array; vs: Float64Array }[] = [];
  for (const p of parts) {
    if (p.max < from || p.min >= to) continue;
    if (p.bytes !== undefined) {
      const d = decodeChunk(p.bytes);
      onDecode();
      decoded.push({ order: p.order, ts: d.ts, vs: d.vs });
    } else decoded.push({ order: p.order, ts: p.ts!, vs: p.vs! });
  }
  const m = mergeParts(decoded);
  const lo = lowerBound(m.ts, 0, m.ts.length, from);
  const hi = lowerBound(m.ts, lo, m.ts.length, to);
  if (hi > lo) {
    sink(m.ts, m.vs, lo, hi);
    total += hi - lo;
  }
  return total;
}

/** Merges sorted, deduplicated parts; for equal timestamps the part with the larger `order` wins. */
export function mergeParts(ps: { order: number; ts: Float64Array; vs: Float64Array }[]): { ts: Float64Array; vs: Float64Array } {
  if (ps.length === 0) return { ts: new Float64Array(0), vs: new Float64Array(0) };
  if (ps.length === 1) return ps[0]!;
  ps.sort((a, b) => a.order - b.order);
  let n = 0;
  for (const p of ps) n += p.ts.length;
  // k-way merge by (time, order): parts are few, so a linear pick per point is cheap and allocation-free
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const at = new Uint32Array(ps.length);
  let k = 0;
  for (;;) {
    let best = -1;
    let bt = Infinity;
    for (let j = 0; j < ps.length; j++) {
      const p = ps[j]!;
      if (at[j]! < p.ts.length) {
        const t = p.ts[at[j]!]!;
        // later parts (larger order) come later on ties, so their value lands last and wins
        if (best < 0 || t < bt) {
          best = j;
          bt = t;
        }
      }
    }
    if (best < 0) break;
    const v = ps[best]!.vs[at[best]!]!;
    at[best]!++;
    if (k > 0 && ts[k - 1] === bt) vs[k - 1] = v;
    else {
      ts[k] = bt;
      vs[k] = v;
      k++;
    }
  }
  return { ts: ts.subarray(0, k), vs: vs.subarray(0, k) };
}

/** Collects streamed points into one pair of arrays (exact size when `expect` is right). */
export class Collector {
  ts: Float64Array;
  vs: Float64Array;
  n = 0;

  constructor(expect: number) {
    this.ts = new Float64Array(expect > 0 ? expect : 16);
    this.vs = new Float64Array(expect > 0 ? expect : 16);
  }

  readonly sink: PointSink = (ts, vs, lo, hi) => {
    const need = this.n + hi - lo;
    if (need > this.ts.length) {
      const cap = Math.max(need, this.ts.length * 2);
      const t = new Float64Array(cap);
      t.set(this.ts.subarray(0, this.n));
      const v = new Float64Array(cap);
      v.set(this.vs.subarray(0, this.n));
      this.ts = t;
      this.vs = v;
    }
    this.ts.set(ts.subarray(lo, hi), this.n);
    this.vs.set(vs.subarray(lo, hi), this.n);
    this.n = need;
  };

  result(): { ts: Float64Array; vs: Float64Array } {
    if (this.n === this.ts.length) return { ts: this.ts, vs: this.vs };
    return { ts: this.ts.slice(0, this.n), vs: this.vs.slice(0, this.n) };
  }

  /**
   * Exact-size copies of the collected points, then empties the collector for reuse (its arrays are
   * kept, unless they grew past `keep` points: then they are dropped for small ones).
   */
  take(keep = 1 << 16): { ts: Float64Array; vs: Float64Array } {
    const out = { ts: this.ts.slice(0, this.n), vs: this.vs.slice(0, this.n) };
    this.n = 0;
    if (this.ts.length > keep) {
      this.ts = new Float64Array(16);
      this.vs = new Float64Array(16);
    }
    return out;
  }
}

/**
 * The shared collector of value-filtered points (their count is unknown ahead: growing a fresh
 * collector per series from a small size allocated and copied every doubling). A query fills it and
 * takes an exact-size copy within one synchronous call, so no two queries ever hold it at once.
 */
export const filteredPoints = new Collector(1024);

/** Wraps a sink so that only points whose value passes `f` reach it (NaN fails every bound). */
export function filterSink(f: ValueFilter, out: PointSink): PointSink {
  const hasGt = f.gt !== undefined;
  const hasGte = f.gte !== undefined;
  const hasLt = f.lt !== undefined;
  const hasLte = f.lte !== undefined;
  const gt = f.gt ?? 0;
  const gte = f.gte ?? 0;
  const lt = f.lt ?? 0;
  const lte = f.lte ?? 0;
  return (ts, vs, lo, hi) => {
    // the passing points go to the shared filter buffers, which `out` consumes before returning
    filtered.ensure(hi - lo);
    const bt = filtered.ts;
    const bv = filtered.vs;
    let k = 0;
    for (let i = lo; i < hi; i++) {
      const v = vs[i]!;
      if ((!hasGt || v > gt) && (!hasGte || v >= gte) && (!hasLt || v < lt) && (!hasLte || v <= lte)) {
        bt[k] = ts[i]!;
        bv[k] = v;
        k++;
      }
    }
    if (k > 0) out(bt, bv, 0, k);
  };
}

/** Aggregations the bucket accumulator computes without keeping points. */
export const STREAMING_AGGS: ReadonlySet<TsdbAggregation> = new Set<TsdbAggregation>(['count', 'sum', 'min', 'max', 'avg', 'last']);
/** Largest bucket count the accumulator allocates (larger ranges fall back to the pooled path). */
export const MAX_BUCKETS = 1 << 20;

/**
 * Per-bucket accumulator over `[from, to)` with buckets `origin + k * step`. Points of any number of
 * series (each sorted by time) fold in; `last` keeps the value with the largest timestamp (on a tie,
 * the series folded later, which matches pooling series in order).
 */
export class BucketAccumulator {
  readonly first: number;
  readonly nb: number;
  private readonly acc: Float64Array;
  private readonly cnt: Float64Array;
  private readonly lastT: Float64Array | undefined;

  constructor(
    private readonly agg: TsdbAggregation,
    private readonly origin: number,
    private readonly step: number,
    from: number,
    to: number,
  ) {
    this.first = Math.floor((from - origin) / step);
    this.nb = Math.floor((to - 1 - origin) / step) - this.first + 1;
    this.acc = new Float64Array(this.nb);
    this.cnt = new Float64Array(this.nb);
    if (agg === 'max') this.acc.fill(-Infinity);
    else if (agg === 'min') this.acc.fill(Infinity);
    else if (agg === 'last') this.acc.fill(NaN);
    this.lastT = agg === 'last' ? new Float64Array(this.nb).fill(-Infinity) : undefined;
  }

  /** Bucket count for a range, to decide whether the accumulator fits. */
  static buckets(origin: number, step: number, from: number, to: number): number {
    return Math.floor((to - 1 - origin) / step) - Math.floor((from - origin) / step) + 1;
  }

  readonly sink: PointSink = (ts, vs, lo, hi) => {
    const { origin, step, acc, cnt, agg } = this;
    let i = lo;
    while (i < hi) {
      const k = Math.floor((ts[i]! - origin) / step);
      const b = k - this.first;
      const end = origin + (k + 1) * step;
      let j = i;
      while (j < hi && ts[j]! < end) j++;
      cnt[b] = cnt[b]! + (j - i);
      switch (agg) {
        case 'max': {
          let m = acc[b]!;
          for (let x = i; x < j; x++) if (vs[x]! > m) m = vs[x]!;
          acc[b] = m;
          break;
        }
        case 'min': {
          let m = acc[b]!;
          for (let x = i; x < j; x++) if (vs[x]! < m) m = vs[x]!;
          acc[b] = m;
          break;
        }
        case 'sum':
        case 'avg': {
          let m = acc[b]!;
          for (let x = i; x < j; x++) m += vs[x]!;
          acc[b] = m;
          break;
        }
        case 'last': {
          const t = ts[j - 1]!;
          if (t >= this.lastT![b]!) {
            this.lastT![b] = t;
            acc[b] = vs[j - 1]!;
          }
          break;
        }
        default:
          break;
      }
      i = j;
    }
  };

  /** True when no point was folded in. */
  empty(): boolean {
    for (let b = 0; b < this.nb; b++) if (this.cnt[b]! > 0) return false;
    return true;
  }

  /** Non-empty buckets: start times and values. */
  result(): { ts: Float64Array; vs: Float64Array } {
    let n = 0;
    for (let b = 0; b < this.nb; b++) if (this.cnt[b]! > 0) n++;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    let k = 0;
    for (let b = 0; b < this.nb; b++) {
      const c = this.cnt[b]!;
      if (c === 0) continue;
      ts[k] = this.origin + (this.first + b) * this.step;
      vs[k] = this.agg === 'count' ? c : this.agg === 'avg' ? this.acc[b]! / c : this.acc[b]!;
      k++;
    }
    return { ts, vs };
  }
}

/** The point count in a chunk's header. */
export function chunkPointCount(c: Uint8Array): number {
  if (c.length < CHUNK_HEADER) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk shorter than its header');
  return readU32(c, 1);
}

/** Validates a {@link ValueFilter} at the edge; returns it, or undefined when it keeps every point. */
export function checkValueFilter(f: unknown): ValueFilter | undefined {
  if (f === undefined) return undefined;
  if (typeof f !== 'object' || f === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'valueFilter must be an object');
  const o = f as Record<string, unknown>;
  let any = false;
  for (const k of Object.keys(o)) {
    if (k !== 'gt' && k !== 'gte' && k !== 'lt' && k !== 'lte') throw new LsmError('LSM_INVALID_ARGUMENT', `unknown valueFilter bound ${k}`);
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v)) throw new LsmError('LSM_INVALID_ARGUMENT', `valueFilter.${k} must be a number`);
    any = true;
  }
  return any ? (o as ValueFilter) : undefined;
}
