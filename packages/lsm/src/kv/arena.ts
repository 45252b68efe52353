/**
 * Slab arena: large `ArrayBuffer` slabs with bump allocation, released (recycled) whole.
 * Internal to the memtable.
 */

/** Largest standard slab: node pointers address 8-byte units within a slab with 20 bits. */
export const MAX_SLAB_BYTES = 8 * 1024 * 1024;
const SLAB_SHIFT = 2 ** 20;
/** Most slabs per arena (pointers are 32-bit: 12 bits of slab, 20 bits of 8-byte units). */
export const MAX_SLABS = 4096;
const POOL_LIMIT = 16;
const pool: ArrayBuffer[] = [];

/** One memtable's memory. Pointers are `slab * 2^20 + offset / 8` (fits an unsigned 32-bit int). */
export class Arena {
  readonly slabs: Buffer[] = [];
  readonly u32: Uint32Array[] = [];
  readonly f64: Float64Array[] = [];
  private off = 0;
  private cur = -1;
  /** Bytes handed out (for the flush threshold). */
  used = 0;
  /** Bytes reserved in slabs. */
  reserved = 0;

  constructor(readonly slabBytes: number) {}

  private addSlab(ab: ArrayBuffer): number {
    if (this.slabs.length >= MAX_SLABS) throw new RangeError('arena is full');
    this.slabs.push(Buffer.from(ab));
    this.u32.push(new Uint32Array(ab, 0, ab.byteLength >>> 2));
    this.f64.push(new Float64Array(ab, 0, ab.byteLength >>> 3));
    this.reserved += ab.byteLength;
    return this.slabs.length - 1;
  }

  private newSlab(): void {
    let ab: ArrayBuffer | undefined;
    for (let i = pool.length - 1; i >= 0; i--) {
      if (pool[i]!.byteLength === this.slabBytes) {
        ab = pool[i]!;
        pool.splice(i, 1);
        break;
      }
    }
    this.cur = this.addSlab(ab ?? new ArrayBuffer(this.slabBytes));
    this.off = 0;
  }

  /** Allocates `n` bytes (8-byte aligned, `n <= slabBytes`) and returns its pointer. */
  alloc(n: number): number {
    const size = (n + 7) & ~7;
    if (this.cur < 0 || this.off + size > this.slabBytes) this.newSlab();
    const p = this.cur * SLAB_SHIFT + (this.off >>> 3);
    this.off += size;
    this.used += size;
    return p;
  }

  /** A dedicated slab for one large value; returns its slab index (offset 0). */
  allocLarge(n: number): number {
    this.used += n;
    return this.addSlab(new ArrayBuffer((n + 7) & ~7));
  }

  /** Returns standard slabs to the shared pool (bounded) and forgets all memory. */
  release(): void {
    for (const b of this.slabs) {
      const ab = b.buffer as ArrayBuffer;
      if (ab.byteLength === this.slabBytes && pool.length < POOL_LIMIT) pool.push(ab);
    }
    this.slabs.length = 0;
    this.u32.length = 0;
    this.f64.length = 0;
    this.cur = -1;
    this.used = 0;
    this.reserved = 0;
  }
}

/** Slab index of a pointer. */
export function slabOf(p: number): number {
  return p >>> 20;
}

/** Byte offset of a pointer within its slab. */
export function offsetOf(p: number): number {
  return (p & 0xfffff) << 3;
}
