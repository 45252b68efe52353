/**
 * Arena skiplist memtable: nodes, keys and values live in {@link Arena} slabs; no JS object per entry.
 * Ordering: user key ascending, then sequence number descending. Internal.
 */
import { Arena, offsetOf, slabOf } from './arena.js';

export const KIND_DEL = 0;
export const KIND_PUT = 1;
const MAX_HEIGHT = 12;
// Node layout (byte offsets from the node start, 8-byte aligned):
// 0 seq f64 | 8 valSlab u32 | 12 valOff u32 | 16 valLen u32 | 20 keyLen u16, kind u8, height u8 | 24 next[h] u32 | key | value?
const HDR = 24;
const LARGE_VALUE = 0xffffffff;

/** Result slot of {@link Memtable.get}. */
export interface MemGetResult {
  seq: number;
  kind: number;
  value: Buffer | undefined;
}

export class Memtable {
  readonly arena: Arena;
  private readonly prev = new Uint32Array(MAX_HEIGHT);
  /** Last node of each level: appends in key order skip the search. */
  private readonly tail = new Uint32Array(MAX_HEIGHT);
  private height = 1;
  count = 0;
  maxSeq = 0;
  minSeq = Number.MAX_SAFE_INTEGER;
  /** WAL file number holding this memtable's records (0 when no WAL). */
  walNumber = 0;

  constructor(
    slabBytes: number,
    private readonly random: () => number,
  ) {
    this.arena = new Arena(slabBytes);
    const head = this.arena.alloc(HDR + 4 * MAX_HEIGHT);
    const s = this.arena.u32[slabOf(head)]!;
    const i = offsetOf(head) >>> 2;
    s.fill(0, i, i + (HDR >>> 2) + MAX_HEIGHT);
    this.setMeta(head, 0, 0, MAX_HEIGHT);
  }

  get bytes(): number {
    return this.arena.used;
  }

  private setMeta(p: number, keyLen: number, kind: number, height: number): void {
    const b = this.arena.slabs[slabOf(p)]!;
    const o = offsetOf(p);
    b.writeUInt16LE(keyLen, o + 20);
    b[o + 22] = kind;
    b[o + 23] = height;
  }

  next(p: number, level: number): number {
    return this.arena.u32[p >>> 20]![((p & 0xfffff) << 1) + 6 + level]!;
  }

  private setNext(p: number, level: number, v: number): void {
    this.arena.u32[slabOf(p)]![(offsetOf(p) >>> 2) + 6 + level] = v;
  }

  seqOf(p: number): number {
    return this.arena.f64[slabOf(p)]![offsetOf(p) >>> 3]!;
  }

  kindOf(p: number): number {
    return this.arena.slabs[slabOf(p)]![offsetOf(p) + 22]!;
  }

  /** Slab buffer holding the key of node `p`; use with {@link keyStart}/{@link keyEnd}. */
  keyBuf(p: number): Buffer {
    return this.arena.slabs[slabOf(p)]!;
  }

  keyStart(p: number): number {
    const o = offsetOf(p);
    return o + HDR + 4 * this.arena.slabs[slabOf(p)]![o + 23]!;
  }

  keyEnd(p: number): number {
    const o = offsetOf(p);
    const b = this.arena.slabs[slabOf(p)]!;
    return o + HDR + 4 * b[o + 23]! + b.readUInt16LE(o + 20);
  }

  /** Buffer and range of the value of node `p`, written into `out`. */
  valueLoc(p: number, out: { buf: Buffer; start: number; end: number }): void {
    const s = slabOf(p);
    const w = (offsetOf(p) >>> 2) + 2;
    const u = this.arena.u32[s]!;
    const vs = u[w]!;
    const vo = u[w + 1]!;
    const vl = u[w + 2]!;
    if (vs === LARGE_VALUE) {
      out.buf = this.arena.slabs[vo]!;
      out.start = 0;
      out.end = vl;
    } else {
      out.buf = this.arena.slabs[vs]!;
      out.start = vo;
      out.end = vo + vl;
    }
  }

  /** Compares node `p` with (key, seq) in internal order (byte loop: cheaper than a native call for short keys). */
  private cmp(p: number, key: Buffer, seq: number): number {
    const s = p >>> 20;
    const o = (p & 0xfffff) << 3;
    const b = this.arena.slabs[s]!;
    const klen = b[o + 20]! | (b[o + 21]! << 8);
    const ks = o + HDR + 4 * b[o + 23]!;
    const n = klen < key.length ? klen : key.length;
    for (let i = 0; i < n; i++) {
      const d = b[ks + i]! - key[i]!;
      if (d !== 0) return d;
    }
    if (klen !== key.length) return klen - key.length;
    const ns = this.arena.f64[s]![o >>> 3]!;
    return ns > seq ? -1 : ns < seq ? 1 : 0;
  }

  /** Last node strictly before (key, seq), or 0 (head); fills `prev` per level. */
  private findLess(key: Buffer, seq: number): number {
    let x = 0;
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const n = this.next(x, level);
        if (n === 0 || this.cmp(n, key, seq) >= 0) break;
        x = n;
      }
      this.prev[level] = x;
    }
    return x;
  }

  /** Inserts one entry. `value` is ignored for deletes. */
  add(seq: number, kind: number, key: Buffer, value: Buffer | undefined): void {
    let h = 1;
    while (h < MAX_HEIGHT && this.random() < 0.25) h++;
    const t0 = this.tail[0]!;
    if (t0 !== 0 && this.cmp(t0, key, seq) < 0) this.prev.set(this.tail);
    else this.findLess(key, seq);
    if (h > this.height) {
      for (let l = this.height; l < h; l++) this.prev[l] = 0;
      this.height = h;
    }
    const vlen = kind === KIND_PUT && value ? value.length : 0;
    const nodeBytes = HDR + 4 * h + key.length;
    const inline = nodeBytes + vlen <= this.arena.slabBytes >>> 2;
    const p = this.arena.alloc(inline ? nodeBytes + vlen : nodeBytes);
    const s = slabOf(p);
    const o = offsetOf(p);
    const buf = this.arena.slabs[s]!;
    this.arena.f64[s]![o >>> 3] = seq;
    const u = this.arena.u32[s]!;
    const w = o >>> 2;
    this.setMeta(p, key.length, kind, h);
    buf.set(key, o + HDR + 4 * h);
    if (inline) {
      u[w + 2] = s;
      u[w + 3] = o + nodeBytes;
      u[w + 4] = vlen;
      if (vlen > 0) buf.set(value!, o + nodeBytes);
    } else {
      const ls = this.arena.allocLarge(vlen);
      this.arena.slabs[ls]!.set(value!, 0);
      u[w + 2] = LARGE_VALUE;
      u[w + 3] = ls;
      u[w + 4] = vlen;
    }
    for (let l = 0; l < h; l++) {
      const pr = this.prev[l]!;
      this.setNext(p, l, this.next(pr, l));
      this.setNext(pr, l, p);
      if (this.next(p, l) === 0) this.tail[l] = p;
    }
    this.count++;
    if (seq > this.maxSeq) this.maxSeq = seq;
    if (seq < this.minSeq) this.minSeq = seq;
  }

  /** Newest version of `key` with seq <= `snap`; returns false when the key has no such version. */
  get(key: Buffer, snap: number, out: MemGetResult): boolean {
    const x = this.findLess(key, snap);
    const n = this.next(x, 0);
    if (n === 0) return false;
    const b = this.keyBuf(n);
    if (b.compare(key, 0, key.length, this.keyStart(n), this.keyEnd(n)) !== 0) return false;
    out.seq = this.seqOf(n);
    out.kind = this.kindOf(n);
    if (out.kind === KIND_PUT) {
      const loc = { buf: b, start: 0, end: 0 };
      this.valueLoc(n, loc);
      out.value = Buffer.from(loc.buf.subarray(loc.start, loc.end));
    } else out.value = undefined;
    return true;
  }

  /** First node >= (key, +inf seq) i.e. the first version of the first key >= key; 0 if none. */
  seekGE(key: Buffer): number {
    return this.next(this.findLess(key, Number.MAX_VALUE), 0);
  }

  /** Last node whose key <= key; 0 if none. */
  seekLE(key: Buffer): number {
    return this.findLess(key, -1);
  }

  /** Node before `p` in internal order; 0 if none. */
  before(p: number): number {
    const b = this.keyBuf(p);
    return this.findLess(b.subarray(this.keyStart(p), this.keyEnd(p)), this.seqOf(p));
  }

  first(): number {
    return this.next(0, 0);
  }

  /** Last node; 0 if empty. */
  last(): number {
    let x = 0;
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const n = this.next(x, level);
        if (n === 0) break;
        x = n;
      }
    }
    return x;
  }

  release(): void {
    this.arena.release();
  }
}
