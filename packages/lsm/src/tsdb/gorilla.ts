import { BitWriter, type BitReader } from './bit-stream.js';

/**
 * Largest timestamp magnitude a chunk can hold (2^51 - 1 ms, about 71,000 years either side of the
 * epoch): it keeps every delta-of-delta an exact integer.
 *
 * @since 0.1.0
 */
export const MAX_TIMESTAMP = 2 ** 51 - 1;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE ? 0 : 1;
const HI = LITTLE ? 1 : 0;

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** @internal Writes a signed integer of magnitude < 2^53 as sign + 53 bits. */
function writeBig(w: BitWriter, d: number): void {
  const m = Math.abs(d);
  w.bit(d < 0 ? 1 : 0);
  w.write(Math.floor(m / 2 ** 32), 21);
  w.write(m % 2 ** 32, 32);
}

function readBig(r: BitReader): number {
  const neg = r.bit();
  const m = r.read(21) * 2 ** 32 + r.read(32);
  return neg === 1 ? -m : m;
}

/** @internal Delta-of-delta encoding of one value (Gorilla's timestamp buckets, widened for ms). */
function writeDod(w: BitWriter, d: number): void {
  if (d === 0) w.bit(0);
  else if (d >= -63 && d <= 64) {
    w.write(0b10, 2);
    w.write(d + 63, 7);
  } else if (d >= -255 && d <= 256) {
    w.write(0b110, 3);
    w.write(d + 255, 9);
  } else if (d >= -2047 && d <= 2048) {
    w.write(0b1110, 4);
    w.write(d + 2047, 12);
  } else if (d >= -(2 ** 31 - 1) && d <= 2 ** 31) {
    w.write(0b11110, 5);
    w.write(d + 2 ** 31 - 1, 32);
  } else {
    w.write(0b11111, 5);
    writeBig(w, d);
  }
}

function readDod(r: BitReader): number {
  if (r.bit() === 0) return 0;
  if (r.bit() === 0) return r.read(7) - 63;
  if (r.bit() === 0) return r.read(9) - 255;
  if (r.bit() === 0) return r.read(12) - 2047;
  if (r.bit() === 0) return r.read(32) - (2 ** 31 - 1);
  return readBig(r);
}

/**
 * @internal Gorilla-encodes `n` points: delta-of-delta timestamps and XOR float64 values, bit-packed.
 * Timestamps must be integers with magnitude <= {@link MAX_TIMESTAMP} (checked by the caller).
 */
export function gorillaEncode(ts: Float64Array, vs: Float64Array, n: number, w: BitWriter = new BitWriter(n * 2 + 32)): BitWriter {
  if (n === 0) return w;
  writeBig(w, ts[0]!);
  f64[0] = vs[0]!;
  let ph = u32[HI]!;
  let pl = u32[LO]!;
  w.write(ph, 32);
  w.write(pl, 32);
  let prevT = ts[0]!;
  let prevD = 0;
  let plz = -1;
  let ptz = 0;
  for (let i = 1; i < n; i++) {
    const t = ts[i]!;
    const d = t - prevT;
    writeDod(w, d - prevD);
    prevD = d;
    prevT = t;
    f64[0] = vs[i]!;
    const h = u32[HI]!;
    const l = u32[LO]!;
    const xh = (h ^ ph) >>> 0;
    const xl = (l ^ pl) >>> 0;
    ph = h;
    pl = l;
    if (xh === 0 && xl === 0) {
      w.bit(0);
      continue;
    }
    w.bit(1);
    let lz = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
    const tz = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
    if (lz > 31) lz = 31;
    let useLz: number;
    let useTz: number;
    if (plz >= 0 && lz >= plz && tz >= ptz) {
      w.bit(0);
      useLz = plz;
      useTz = ptz;
    } else {
      w.bit(1);
      const len = 64 - lz - tz;
      w.write(lz, 5);
      w.write(len - 1, 6);
      plz = lz;
      ptz = tz;
      useLz = lz;
      useTz = tz;
    }
    const len = 64 - useLz - useTz;
    let sh: number;
    let sl: number;
    if (useTz >= 32) {
      sh = 0;
      sl = xh >>> (useTz - 32);
    } else if (useTz > 0) {
      sl = ((xl >>> useTz) | (xh << (32 - useTz))) >>> 0;
      sh = xh >>> useTz;
    } else {
      sh = xh;
      sl = xl;
    }
    w.write64(sh, sl, len);
  }
  return w;
}

/** @internal Decodes `n` points written by {@link gorillaEncode} into `ts`/`vs` from `offset`. */
export function gorillaDecode(r: BitReader, n: number, ts: Float64Array, vs: Float64Array, offset = 0): void {
  if (n === 0) return;
  let t = readBig(r);
  let ph = r.read(32);
  let pl = r.read(32);
  ts[offset] = t;
  u32[HI] = ph;
  u32[LO] = pl;
  vs[offset] = f64[0]!;
  let d = 0;
  let plz = 0;
  let ptz = 0;
  for (let i = 1; i < n; i++) {
    d += readDod(r);
    t += d;
    ts[offset + i] = t;
    if (r.bit() !== 0) {
      if (r.bit() !== 0) {
        plz = r.read(5);
        const len = r.read(6) + 1;
        ptz = 64 - plz - len;
        if (ptz < 0) throw new RangeError('corrupt XOR window');
      }
      const len = 64 - plz - ptz;
      let hi = 0;
      let lo: number;
      if (len > 32) {
        hi = r.read(len - 32);
        lo = r.read(32);
      } else lo = r.read(len);
      if (ptz >= 32) {
        hi = lo << (ptz - 32);
        lo = 0;
      } else if (ptz > 0) {
        hi = (hi << ptz) | (lo >>> (32 - ptz));
        lo = lo << ptz;
      }
      ph = (ph ^ hi) >>> 0;
      pl = (pl ^ lo) >>> 0;
    }
    u32[HI] = ph;
    u32[LO] = pl;
    vs[offset + i] = f64[0]!;
  }
}
