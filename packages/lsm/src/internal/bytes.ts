/** Byte helpers shared by the engine. Internal. */
import { LsmError } from '../errors.js';

const enc = new TextEncoder();

/** A Buffer view over `u` without copying. */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Validates a key/value argument and returns its bytes as a Buffer (strings UTF-8 encoded). */
export function toBytes(v: unknown, what: string): Buffer {
  if (typeof v === 'string') return Buffer.from(enc.encode(v).buffer);
  if (v instanceof Uint8Array) return asBuffer(v);
  throw new LsmError('LSM_INVALID_ARGUMENT', `${what} must be a Uint8Array or a string`);
}

/** Byte-wise comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return asBuffer(a).compare(asBuffer(b));
}

/** Grow-on-demand byte writer. */
export class ByteWriter {
  buf: Buffer;
  len = 0;
  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = Buffer.allocUnsafe(cap);
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }
  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const n = end - start;
    this.ensure(n);
    if (n <= 32) {
      const b = this.buf;
      const o = this.len - start;
      for (let i = start; i < end; i++) b[o + i] = src[i]!;
    } else if (start === 0 && end === src.length) this.buf.set(src, this.len);
    else this.buf.set(src.subarray(start, end), this.len);
    this.len += n;
  }
  reset(): void {
    this.len = 0;
  }
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Cursor-style reader; `pos` advances. Throws RangeError past the end (callers map it to a typed error). */
export class ByteReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  u8(): number {
    if (this.pos >= this.end) throw new RangeError('read past end');
    return this.buf[this.pos++]!;
  }
  u32(): number {
    if (this.pos + 4 > this.end) throw new RangeError('read past end');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    if (this.pos + 8 > this.end) throw new RangeError('read past end');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new RangeError('read past end');
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
    throw new RangeError('varint too long');
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) throw new RangeError('read past end');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/** Compares a[as, ae) with b[bs, be) byte-wise (a JS loop: cheaper than a native call for short keys). */
export function cmpRange(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const la = ae - as;
  const lb = be - bs;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return la - lb;
}
