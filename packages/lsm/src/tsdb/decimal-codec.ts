import { inflateRawSync } from 'node:zlib';
import type { BitReader, BitWriter } from './bit-stream.js';

/** @internal Powers of ten for the decimal scales 0..6. */
export const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6];
const LIMIT = 2 ** 50;

/**
 * @internal The smallest decimal scale s (0..6) such that every value is exactly k / 10^s for an
 * integer k with |k| < 2^50, or -1 when there is none (NaN, infinities, -0, too many decimals). When
 * `ks` is given (length >= n), it receives every k at that scale.
 */
export function decimalScale(vs: Float64Array, n: number, ks?: Float64Array): number {
  let s = 0;
  let p = 1;
  for (let i = 0; i < n; i++) {
    const v = vs[i]!;
    // NaN and infinities (v - v is NaN), and -0, have no decimal form
    if (v - v !== 0 || (v === 0 && 1 / v < 0)) return -1;
    let k = Math.round(v * p);
    if (!(k / p === v && k < LIMIT && k > -LIMIT)) {
      const from = s;
      do {
        if (++s === POW10.length) return -1;
        p = POW10[s]!;
        k = Math.round(v * p);
      } while (!(k / p === v && k < LIMIT && k > -LIMIT));
      // earlier ks were found at a smaller scale: rescale them (exact below 2^53; packedEncode rejects |k| >= 2^52)
      if (ks !== undefined) {
        const f = POW10[s - from]!;
        for (let j = 0; j < i; j++) ks[j] = ks[j]! * f;
      }
    }
    if (ks !== undefined) ks[i] = k;
  }
  return s;
}

/** Points per frame of the packed codec: each frame stores its minimum and bit width once. */
const FRAME = 128;
/** Frames whose range reaches this are not packed (the chunk falls back to Gorilla). */
const SAFE_RANGE = 2 ** 52;
let scratch = new Float64Array(1024);

/** Bits needed for an integer in [0, 2^53). */
function bitLength(x: number): number {
  return x < 4294967296 ? 32 - Math.clz32(x) : 64 - Math.clz32(Math.floor(x / 4294967296));
}

/** A signed integer (|x| < 2^53): sign bit, 6-bit length, magnitude. */
function writeSigned(w: BitWriter, x: number): void {
  const m = Math.abs(x);
  const len = bitLength(m);
  w.write((x < 0 ? 64 : 0) | len, 7);
  w.writeWide(m, len);
}

/** @internal Reads a signed integer written by `writeSigned` (sign bit, 6-bit length, magnitude). */
export function readSigned(r: BitReader): number {
  const h = r.read(7);
  const len = h & 63;
  if (len > 53) throw new RangeError('corrupt packed integer');
  const m = r.readWide(len);
  return h & 64 ? -m : m;
}

/**
 * Frame-of-reference bit packing of `xs[0..n)` (integers): per frame, min and width, with `sums` the
 * frame's sum (codec 4's value frames: a reader skips the frame in O(1)), then `x - min` in width bits.
 * With `sums`, every partial sum of `xs` must stay below 2^53 in magnitude (value deltas: differences
 * of k within ±2^52).
 */
function writeFrames(w: BitWriter, xs: Float64Array, n: number, sums: boolean): boolean {
  for (let b = 0; b < n; b += FRAME) {
    const e = b + FRAME < n ? b + FRAME : n;
    let lo = xs[b]!;
    let hi = lo;
    let sum = lo;
    for (let i = b + 1; i < e; i++) {
      const x = xs[i]!;
      sum += x;
      if (x < lo) lo = x;
      else if (x > hi) hi = x;
    }
    const range = hi - lo;
    if (!(range < SAFE_RANGE && lo > -SAFE_RANGE && hi < SAFE_RANGE)) return false;
    const width = bitLength(range);
    writeSigned(w, lo);
    w.write(width, 6);
    if (sums) writeSigned(w, sum);
    if (width === 0) continue;
    if (width <= 32) w.writeFrame(xs, b, e, lo, width);
    else for (let i = b; i < e; i++) w.writeWide(xs[i]! - lo, width);
  }
  return true;
}

/**
 * @internal Reads the frames of {@link writeFrames} into `out[at ..]`, at least the values
 * `[0, need)` of `n` (whole frames: up to 127 more; default all). With `sums` (codec 4's value frames)
 * each frame's stored sum is checked against its values.
 */
export function readFrames(r: BitReader, out: Float64Array, at: number, n: number, sums: boolean, need = n): void {
  for (let b = 0; b < n && b < need; b += FRAME) {
    const e = b + FRAME < n ? b + FRAME : n;
    const lo = readSigned(r);
    const width = r.read(6);
    if (width > 52) throw new RangeError('corrupt frame width');
    const stored = sums ? readSigned(r) : 0;
    // the sum of the frame's values minus lo each
    let rest = 0;
    if (width === 0) out.fill(lo, at + b, at + e);
    else if (width <= 32) rest = r.readFrame(out, at + b, e - b, lo, width);
    else
      for (let i = b; i < e; i++) {
        const x = r.readWide(width);
        rest += x;
        out[at + i] = lo + x;
      }
    if (sums && frameSum(out, at + b, at + e, lo, width, rest) !== stored) throw new RangeError('frame sum does not match its values');
  }
}

/** Largest |frame minimum| for which `lo * count + rest` is exact (count <= 128, rest < 2^39 for width <= 32). */
const EXACT_LO = 2 ** 45;

/**
 * The sum of the frame `out[from, to)` (minimum `lo`, values `lo + x` with `rest` the sum of the xs):
 * `lo * count + rest` when that is exact, else the values summed in order (their partial sums are
 * differences of k, exact below 2^53).
 */
function frameSum(out: Float64Array, from: number, to: number, lo: number, width: number, rest: number): number {
  if (width <= 32 && lo < EXACT_LO && lo > -EXACT_LO) return lo * (to - from) + rest;
  let sum = 0;
  for (let i = from; i < to; i++) sum += out[i]!;
  return sum;
}

/**
 * @internal Moves `r` past one frame of {@link writeFrames} with `sums` (codec 4's value frames) holding
 * `count` values, in O(1), and returns the frame's sum.
 */
export function skipSumFrame(r: BitReader, count: number): number {
  readSigned(r); // the frame minimum
  const width = r.read(6);
  if (width > 52) throw new RangeError('corrupt frame width');
  const sum = readSigned(r);
  r.skip(count * width);
  return sum;
}

/**
 * @internal The packed decimal codec (chunk codecs 3 and 4): values that are all k / 10^scale, given as
 * their integers `ks` (from {@link decimalScale}), are stored as deltas of k, timestamps as
 * delta-of-delta, both bit-packed in frames of 128 (frame minimum + bit width, then each value in that width). No entropy coder: a hot
 * loop of shifts over typed arrays, and on regular gauges it is smaller than the deflated varints of
 * codec 2. `ts` must be strictly increasing integers within ±MAX_TIMESTAMP (checked by the caller).
 * With `sums` (codec 4, the default) each value frame also stores the sum of its deltas right after
 * its width, so that a decoder starting mid-chunk skips whole frames in O(1); without (codec 3, only
 * written for tests now) the layout of earlier versions.
 *
 * @returns false when a k or a frame is too wide to pack exactly (the caller then uses Gorilla).
 */
export function packedEncode(ts: Float64Array, ks: Float64Array, n: number, scale: number, w: BitWriter, sums = true): boolean {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  const xs = scratch;
  w.write(scale, 3);
  writeSigned(w, ts[0]!);
  if (n > 1) {
    let prev = ts[1]! - ts[0]!;
    writeSigned(w, prev);
    for (let i = 2; i < n; i++) {
      const d = ts[i]! - ts[i - 1]!;
      xs[i - 2] = d - prev;
      prev = d;
    }
    if (!writeFrames(w, xs, n - 2, false)) return false;
  }
  // every k within ±2^52 keeps k, its deltas and the decoder's running sum exact integers
  let prevK = ks[0]!;
  if (!(prevK < SAFE_RANGE && prevK > -SAFE_RANGE)) return false;
  writeSigned(w, prevK);
  for (let i = 1; i < n; i++) {
    const k = ks[i]!;
    if (!(k < SAFE_RANGE && k > -SAFE_RANGE)) return false;
    xs[i - 1] = k - prevK;
    prevK = k;
  }
  return writeFrames(w, xs, n - 1, sums);
}

let kScratch = new Float64Array(1024);

/** @internal A scratch array of at least `n` numbers for {@link decimalScale}'s scaled integers (reused). */
export function scaledScratch(n: number): Float64Array {
  if (kScratch.length < n) kScratch = new Float64Array(Math.max(n, kScratch.length * 2));
  return kScratch;
}

/** @internal Decodes {@link packedEncode} output into `ts`/`vs` from `offset` (`sums`: codec 4's layout, else codec 3's). */
export function packedDecode(r: BitReader, n: number, ts: Float64Array, vs: Float64Array, offset: number, sums: boolean): void {
  const scale = r.read(3);
  const p = POW10[scale];
  if (p === undefined) throw new RangeError('bad decimal scale');
  let t = readSigned(r);
  ts[offset] = t;
  if (n > 1) {
    let d = readSigned(r);
    t += d;
    ts[offset + 1] = t;
    // dods land in ts[offset + 2 ..], then are integrated in place
    readFrames(r, ts, offset + 2, n - 2, false);
    for (let i = 2; i < n; i++) {
      d += ts[offset + i]!;
      t += d;
      ts[offset + i] = t;
    }
  }
  let k = readSigned(r);
  vs[offset] = k / p;
  readFrames(r, vs, offset + 1, n - 1, sums);
  for (let i = 1; i < n; i++) {
    k += vs[offset + i]!;
    vs[offset + i] = k / p;
  }
}

/**
 * @internal Decodes the legacy decimal codec (chunk codec 2: timestamps as delta-of-delta and scaled value
 * deltas as zigzag varints, deflated) into `ts`/`vs` from `offset`. New chunks use {@link packedEncode};
 * this stays so that chunks written by earlier versions keep reading.
 */
export function decimalDecode(payload: Uint8Array, n: number, ts: Float64Array, vs: Float64Array, offset = 0): void {
  const raw = inflateRawSync(payload);
  let pos = 0;
  const zz = (): number => {
    let z = 0;
    let mul = 1;
    for (;;) {
      if (pos >= raw.length) throw new RangeError('decimal chunk truncated');
      const b = raw[pos++]!;
      z += (b & 127) * mul;
      if (b < 128) break;
      mul *= 128;
    }
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  };
  if (raw.length === 0) throw new RangeError('decimal chunk empty');
  const scale = raw[pos++]!;
  const p = POW10[scale];
  if (p === undefined) throw new RangeError('bad decimal scale');
  let t = 0;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const x = zz();
    if (i === 0) t = x;
    else {
      d = i === 1 ? x : d + x;
      t += d;
    }
    ts[offset + i] = t;
  }
  let k = 0;
  for (let i = 0; i < n; i++) {
    k += zz();
    vs[offset + i] = k / p;
  }
}
