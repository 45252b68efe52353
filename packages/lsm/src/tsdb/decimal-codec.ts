import { deflateRawSync, inflateRawSync } from 'node:zlib';

const POW10 = [1, 10, 100, 1000, 1e4, 1e5, 1e6];
const LIMIT = 2 ** 50;

/**
 * @internal The smallest decimal scale s (0..6) such that every value is exactly k / 10^s for an
 * integer k with |k| < 2^50, or -1 when there is none (NaN, infinities, -0, too many decimals).
 */
export function decimalScale(vs: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = vs[i]!;
    if (!Number.isFinite(v) || Object.is(v, -0)) return -1;
    while (s < POW10.length) {
      const p = POW10[s]!;
      const k = Math.round(v * p);
      if (Math.abs(k) < LIMIT && k / p === v) break;
      s++;
    }
    if (s === POW10.length) return -1;
  }
  return s;
}

/** @internal A growable byte sink for varints. */
class Bytes {
  buf = new Uint8Array(256);
  len = 0;
  push(b: number): void {
    if (this.len === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }
  /** Zigzag + LEB128 varint of a safe integer. */
  zz(v: number): void {
    let z = v >= 0 ? v * 2 : -v * 2 - 1;
    while (z >= 128) {
      this.push((z % 128) | 128);
      z = Math.floor(z / 128);
    }
    this.push(z);
  }
}

/**
 * @internal Decimal-aware encoding: timestamps as delta-of-delta, values scaled to integers and
 * delta-encoded, all as zigzag varints, then deflate. Returns undefined when the values are not decimal.
 */
export function decimalEncode(ts: Float64Array, vs: Float64Array, n: number): Uint8Array | undefined {
  const scale = decimalScale(vs, n);
  if (scale < 0) return undefined;
  const p = POW10[scale]!;
  const b = new Bytes();
  b.push(scale);
  let prevT = 0;
  let prevD = 0;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    const d = t - prevT;
    b.zz(i === 0 ? t : d - prevD);
    prevD = i === 0 ? 0 : d;
    prevT = t;
  }
  let prevK = 0;
  for (let i = 0; i < n; i++) {
    const k = Math.round(vs[i]! * p);
    b.zz(k - prevK);
    prevK = k;
  }
  return deflateRawSync(b.buf.subarray(0, b.len));
}

/** @internal Decodes {@link decimalEncode} output into `ts`/`vs` from `offset`. */
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
