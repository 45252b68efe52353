/**
 * @internal A growable big-endian (most significant bit first) bit writer. Bits gather in a 32-bit
 * accumulator that is stored four bytes at a time, so a write costs a few integer operations and no
 * allocation; reuse one writer across chunks with {@link BitWriter.reset}.
 */
export class BitWriter {
  buf: Uint8Array;
  /** Whole bytes stored in `buf`. */
  private pos = 0;
  /** Pending bits (the low `n` bits of `acc`). */
  private acc = 0;
  private n = 0;

  constructor(capacityBytes = 256) {
    this.buf = new Uint8Array(Math.max(16, capacityBytes));
  }

  /** Number of bits written. */
  get bits(): number {
    return this.pos * 8 + this.n;
  }

  /** Forgets everything written (the buffer is kept). */
  reset(): void {
    this.pos = 0;
    this.acc = 0;
    this.n = 0;
  }

  private word(w: number): void {
    let buf = this.buf;
    const p = this.pos;
    if (p + 4 > buf.length) {
      const next = new Uint8Array(buf.length * 2);
      next.set(buf);
      this.buf = buf = next;
    }
    buf[p] = w >>> 24;
    buf[p + 1] = w >>> 16;
    buf[p + 2] = w >>> 8;
    buf[p + 3] = w;
    this.pos = p + 4;
  }

  /** Writes one bit. */
  bit(b: number): void {
    this.write(b === 0 ? 0 : 1, 1);
  }

  /** Writes the low `k` bits of `v` (0 <= k <= 32; v an integer in [0, 2^32)), most significant first. */
  write(v: number, k: number): void {
    if (k === 0) return;
    const free = 32 - this.n;
    if (k < free) {
      this.acc = (this.acc << k) | (v & ((1 << k) - 1));
      this.n += k;
      return;
    }
    // k >= free: fill the word, keep the rest (rest < k <= 32, so every shift below is < 32)
    const rest = k - free;
    const hiPart = v >>> rest;
    const w = free === 32 ? hiPart : (this.acc << free) | (hiPart & ((1 << free) - 1));
    this.word(w);
    this.acc = rest === 0 ? 0 : v & ((1 << rest) - 1);
    this.n = rest;
  }

  /**
   * Writes `xs[i] - base` for i in [from, to) in `k` bits each (1 <= k <= 32; every difference an
   * integer in [0, 2^k)): the frame loop of the packed codec, with the accumulator in locals.
   */
  writeFrame(xs: Float64Array, from: number, to: number, base: number, k: number): void {
    let buf = this.buf;
    const need = this.pos + (((to - from) * k + this.n) >>> 3) + 8;
    if (need > buf.length) {
      let cap = buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(buf);
      this.buf = buf = next;
    }
    let acc = this.acc;
    let n = this.n;
    let pos = this.pos;
    const mask = k === 32 ? -1 : (1 << k) - 1;
    for (let i = from; i < to; i++) {
      const v = xs[i]! - base;
      const free = 32 - n;
      if (k < free) {
        acc = (acc << k) | (v & mask);
        n += k;
        continue;
      }
      const rest = k - free;
      const w = free === 32 ? v : (acc << free) | ((v >>> rest) & ((1 << free) - 1));
      buf[pos] = w >>> 24;
      buf[pos + 1] = w >>> 16;
      buf[pos + 2] = w >>> 8;
      buf[pos + 3] = w;
      pos += 4;
      acc = rest === 0 ? 0 : v & ((1 << rest) - 1);
      n = rest;
    }
    this.acc = acc;
    this.n = n;
    this.pos = pos;
  }

  /** Writes the low `n` bits (0..64) of the 64-bit value `hi:lo`. */
  write64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.write(hi >>> 0, n - 32);
      this.write(lo >>> 0, 32);
    } else this.write(lo >>> 0, n);
  }

  /** Writes a non-negative integer below 2^53 in `k` bits (0..53). */
  writeWide(v: number, k: number): void {
    if (k > 32) {
      this.write(Math.floor(v / 4294967296), k - 32);
      this.write(v >>> 0, 32);
    } else this.write(v, k);
  }

  /** Number of bytes {@link BitWriter.flushTo} writes. */
  get byteLength(): number {
    return this.pos + ((this.n + 7) >>> 3);
  }

  /** Copies the written bytes (the last one zero-padded) into `out` at `at`. */
  flushTo(out: Uint8Array, at: number): void {
    out.set(this.buf.subarray(0, this.pos), at);
    let o = at + this.pos;
    let left = this.n;
    const acc = this.acc;
    while (left > 0) {
      out[o++] = left >= 8 ? acc >>> (left - 8) : acc << (8 - left);
      left -= 8;
    }
  }

  /** The written bytes (a copy of exactly the used length). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    this.flushTo(out, 0);
    return out;
  }
}

/** @internal A big-endian bit reader; reading past the end throws. */
export class BitReader {
  pos: number;
  private readonly end: number;

  constructor(
    private readonly buf: Uint8Array,
    startByte = 0,
    endByte = buf.length,
  ) {
    this.pos = startByte * 8;
    this.end = endByte * 8;
  }

  /** Reads one bit. */
  bit(): number {
    if (this.pos >= this.end) throw new RangeError('bit stream truncated');
    const b = (this.buf[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  /** Reads `n` bits (0..32) as an unsigned number. */
  read(n: number): number {
    if (n === 0) return 0;
    const pos = this.pos;
    if (pos + n > this.end) throw new RangeError('bit stream truncated');
    const b = this.buf;
    const i = pos >>> 3;
    const off = pos & 7;
    const len = b.length;
    // 32 bits from byte i (bytes past the end read as 0; only bits before `end` are used)
    const w = ((i < len ? b[i]! << 24 : 0) | (i + 1 < len ? b[i + 1]! << 16 : 0) | (i + 2 < len ? b[i + 2]! << 8 : 0) | (i + 3 < len ? b[i + 3]! : 0)) >>> 0;
    this.pos = pos + n;
    const avail = 32 - off;
    if (n <= avail) return ((w << off) >>> 0) >>> (32 - n);
    // n > avail: the last n - avail (<= 7) bits come from byte i + 4
    const more = n - avail;
    const top = ((w << off) >>> 0) >>> (32 - n);
    return (top | (b[i + 4]! >>> (8 - more))) >>> 0;
  }

  /**
   * Moves past `bits` bits (a non-negative integer) without reading them, in O(1); skipping past the
   * end throws like a read would.
   *
   * @example
   * ```ts
   * const r = new BitReader(Uint8Array.of(0b1010_0000, 0xff));
   * r.skip(2);
   * r.read(2); // 0b10
   * ```
   */
  skip(bits: number): void {
    const p = this.pos + bits;
    if (!(p <= this.end && bits >= 0)) throw new RangeError('bit stream truncated');
    this.pos = p;
  }

  /**
   * Reads `count` values of `width` bits (1..32) into `out[at, at + count)`, each plus `base` (the
   * frame loop of the packed codec, position in a local, one 4-byte load a value while 4 bytes are
   * left in the buffer), and returns the sum of the values read before `base` is added (exact: below
   * 2^53 for count < 2^21).
   *
   * @example
   * ```ts
   * const out = new Float64Array(2);
   * new BitReader(Uint8Array.of(0b0110_0000)).readFrame(out, 0, 2, 10, 2); // 3; out is [11, 12]
   * ```
   */
  readFrame(out: Float64Array, at: number, count: number, base: number, width: number): number {
    let pos = this.pos;
    if (pos + count * width > this.end) throw new RangeError('bit stream truncated');
    const b = this.buf;
    const e = at + count;
    let j = at;
    let sum = 0;
    if (width <= 25) {
      // off + width <= 32: one big-endian word from byte pos >>> 3 holds the value
      const sh = 32 - width;
      const fast = (b.length - 3) * 8; // positions whose 4-byte load stays inside the buffer
      for (; j < e && pos < fast; j++) {
        const i = pos >>> 3;
        const w = (b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!;
        const v = (w << (pos & 7)) >>> sh;
        sum += v;
        out[j] = base + v;
        pos += width;
      }
      this.pos = pos;
    }
    for (; j < e; j++) {
      const v = this.read(width);
      sum += v;
      out[j] = base + v;
    }
    return sum;
  }

  /** Reads a non-negative integer written by {@link BitWriter.writeWide} in `k` bits (0..53). */
  readWide(k: number): number {
    if (k > 32) {
      const hi = this.read(k - 32);
      return hi * 4294967296 + this.read(32);
    }
    return this.read(k);
  }
}
