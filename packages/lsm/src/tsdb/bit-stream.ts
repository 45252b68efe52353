/** @internal A growable big-endian bit writer over a Uint8Array (no allocation per bit). */
export class BitWriter {
  buf: Uint8Array;
  /** Number of bits written. */
  bits = 0;

  constructor(capacityBytes = 256) {
    this.buf = new Uint8Array(Math.max(16, capacityBytes));
  }

  private ensure(extraBits: number): void {
    const need = ((this.bits + extraBits + 7) >>> 3) + 1;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf);
    this.buf = next;
  }

  /** Writes one bit. */
  bit(b: number): void {
    this.ensure(1);
    if (b !== 0) this.buf[this.bits >>> 3]! |= 0x80 >>> (this.bits & 7);
    this.bits++;
  }

  /** Writes the low `n` bits of `v` (0 <= n <= 32), most significant first. */
  write(v: number, n: number): void {
    if (n === 0) return;
    this.ensure(n);
    let left = n;
    const buf = this.buf;
    while (left > 0) {
      const pos = this.bits & 7;
      const free = 8 - pos;
      const take = free < left ? free : left;
      const chunk = Math.floor(v / 2 ** (left - take)) & ((1 << take) - 1);
      buf[this.bits >>> 3]! |= chunk << (free - take);
      this.bits += take;
      left -= take;
    }
  }

  /** Writes the low `n` bits (0..64) of the 64-bit value `hi:lo`. */
  write64(hi: number, lo: number, n: number): void {
    if (n > 32) {
      this.write(hi >>> 0, n - 32);
      this.write(lo >>> 0, 32);
    } else this.write(lo >>> 0, n);
  }

  /** The written bytes (a copy of exactly the used length). */
  finish(): Uint8Array {
    return this.buf.slice(0, (this.bits + 7) >>> 3);
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
    if (this.pos + n > this.end) throw new RangeError('bit stream truncated');
    let v = 0;
    let left = n;
    while (left > 0) {
      const p = this.pos & 7;
      const avail = 8 - p;
      const take = avail < left ? avail : left;
      const byte = this.buf[this.pos >>> 3]!;
      const chunk = (byte >>> (avail - take)) & ((1 << take) - 1);
      v = v * (1 << take) + chunk;
      this.pos += take;
      left -= take;
    }
    return v;
  }
}
