/** Positioned cursors over memtables and tables, and the merging iterator over them. Internal. */
import { KIND_PUT, type Memtable } from './memtable.js';
import { DecodedBlock, type TableReader } from './table-reader.js';
import { cmpRange } from '../internal/bytes.js';

/** Location of a value inside a buffer. */
export interface ValueRef {
  buf: Buffer;
  start: number;
  end: number;
}

/** A cursor over internal entries. Within one user key, versions may come in any order. */
export interface Cursor {
  valid: boolean;
  /** Current key lives in keyBuf[ks, ke). */
  keyBuf: Buffer;
  ks: number;
  ke: number;
  seq: number;
  kind: number;
  /** Copies the current value. */
  value(): Buffer;
  /** Points `out` at the current value without copying (valid until the cursor moves). */
  valueRef(out: ValueRef): void;
  seekFirst(): void;
  seekLast(): void;
  /** First entry with key >= target. */
  seekGE(target: Buffer): void;
  /** Last entry with key <= target. */
  seekLE(target: Buffer): void;
  next(): void;
  prev(): void;
}

export class MemCursor implements Cursor {
  valid = false;
  keyBuf: Buffer = Buffer.alloc(0);
  ks = 0;
  ke = 0;
  seq = 0;
  kind = 0;
  private p = 0;
  private readonly loc = { buf: Buffer.alloc(0), start: 0, end: 0 };
  constructor(private readonly m: Memtable) {}
  private at(p: number): void {
    this.p = p;
    this.valid = p !== 0;
    if (!this.valid) return;
    const m = this.m;
    this.keyBuf = m.keyBuf(p);
    this.ks = m.keyStart(p);
    this.ke = m.keyEnd(p);
    this.seq = m.seqOf(p);
    this.kind = m.kindOf(p);
  }
  valueRef(out: ValueRef): void {
    this.m.valueLoc(this.p, out);
  }
  value(): Buffer {
    this.m.valueLoc(this.p, this.loc);
    return Buffer.from(this.loc.buf.subarray(this.loc.start, this.loc.end));
  }
  seekFirst(): void {
    this.at(this.m.first());
  }
  seekLast(): void {
    this.at(this.m.last());
  }
  seekGE(t: Buffer): void {
    this.at(this.m.seekGE(t));
  }
  seekLE(t: Buffer): void {
    this.at(this.m.seekLE(t));
  }
  next(): void {
    this.at(this.m.next(this.p, 0));
  }
  prev(): void {
    this.at(this.m.before(this.p));
  }
}

export class TableCursor implements Cursor {
  valid = false;
  keyBuf: Buffer = Buffer.alloc(0);
  ks = 0;
  ke = 0;
  seq = 0;
  kind = 0;
  private readonly d = new DecodedBlock();
  private i = 0;
  constructor(private readonly t: TableReader) {}
  private at(i: number): void {
    const d = this.d;
    this.i = i;
    this.keyBuf = d.keys;
    this.ks = d.keyOff[i]!;
    this.ke = d.keyOff[i + 1]!;
    this.seq = d.seq[i]!;
    this.kind = d.kind[i]!;
    this.valid = true;
  }
  private forwardFrom(bi: number, i: number): void {
    while (bi < this.t.blocks) {
      if (this.d.index !== bi) this.d.load(this.t, bi);
      if (i < this.d.n) return this.at(i);
      bi++;
      i = 0;
    }
    this.valid = false;
  }
  private backwardFrom(bi: number, i: number | undefined): void {
    while (bi >= 0) {
      if (this.d.index !== bi) this.d.load(this.t, bi);
      const j = i ?? this.d.n - 1;
      if (j >= 0 && j < this.d.n) return this.at(j);
      bi--;
      i = undefined;
    }
    this.valid = false;
  }
  valueRef(out: ValueRef): void {
    const d = this.d;
    out.buf = d.buf;
    out.start = d.valOff[this.i]!;
    out.end = out.start + d.valLen[this.i]!;
  }
  value(): Buffer {
    const d = this.d;
    return Buffer.from(d.buf.subarray(d.valOff[this.i]!, d.valOff[this.i]! + d.valLen[this.i]!));
  }
  seekFirst(): void {
    this.forwardFrom(0, 0);
  }
  seekLast(): void {
    this.backwardFrom(this.t.blocks - 1, undefined);
  }
  seekGE(target: Buffer): void {
    const bi = this.t.findBlock(target);
    if (bi >= this.t.blocks) {
      this.valid = false;
      return;
    }
    this.d.load(this.t, bi);
    this.forwardFrom(bi, this.d.lowerBound(target));
  }
  seekLE(target: Buffer): void {
    let bi = this.t.findBlock(target);
    if (bi >= this.t.blocks) bi = this.t.blocks - 1;
    if (bi < 0) {
      this.valid = false;
      return;
    }
    this.d.load(this.t, bi);
    const j = this.d.upperBound(target) - 1;
    if (j >= 0) this.at(j);
    else this.backwardFrom(bi - 1, undefined);
  }
  next(): void {
    this.forwardFrom(this.d.index, this.i + 1);
  }
  prev(): void {
    if (this.i > 0) this.at(this.i - 1);
    else this.backwardFrom(this.d.index - 1, undefined);
  }
}

/**
 * Merges cursors into the visible view at a snapshot: for each user key the newest version with
 * seq <= snap wins; deleted keys are skipped. Bounds are checked by the caller.
 */
export class MergeIterator {
  key: Buffer = Buffer.alloc(0);
  value: Buffer = Buffer.alloc(0);
  private keyScratch = Buffer.allocUnsafe(256);
  private started = false;
  constructor(
    private readonly cursors: Cursor[],
    private readonly snap: number,
    private readonly reverse: boolean,
    private readonly start: Buffer | undefined,
  ) {}

  /** Advances to the next visible entry; false at the end. Sets `key`/`value` (fresh copies). */
  next(): boolean {
    const cs = this.cursors;
    const rev = this.reverse;
    if (!this.started) {
      this.started = true;
      for (const c of cs) {
        if (this.start === undefined) {
          if (rev) c.seekLast();
          else c.seekFirst();
        } else if (rev) c.seekLE(this.start);
        else c.seekGE(this.start);
      }
    }
    for (;;) {
      let best: Cursor | undefined;
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i]!;
        if (!c.valid) continue;
        if (best === undefined) {
          best = c;
          continue;
        }
        const cmp = cmpRange(c.keyBuf, c.ks, c.ke, best.keyBuf, best.ks, best.ke);
        if (rev ? cmp > 0 : cmp < 0) best = c;
      }
      if (best === undefined) return false;
      const klen = best.ke - best.ks;
      if (klen > this.keyScratch.length) this.keyScratch = Buffer.allocUnsafe(klen * 2);
      const key = this.keyScratch;
      best.keyBuf.copy(key, 0, best.ks, best.ke);
      let topSeq = -1;
      let topKind = 0;
      let topVal: Buffer | undefined;
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i]!;
        while (c.valid && cmpRange(c.keyBuf, c.ks, c.ke, key, 0, klen) === 0) {
          if (c.seq <= this.snap && c.seq > topSeq) {
            topSeq = c.seq;
            topKind = c.kind;
            topVal = c.kind === KIND_PUT ? c.value() : undefined;
          }
          if (rev) c.prev();
          else c.next();
        }
      }
      if (topSeq >= 0 && topKind === KIND_PUT) {
        this.key = Buffer.from(key.subarray(0, klen));
        this.value = topVal!;
        return true;
      }
    }
  }
}

/** Concatenation of tables with disjoint, sorted key ranges (one level of leveled compaction). */
export class LevelCursor implements Cursor {
  valid = false;
  keyBuf: Buffer = Buffer.alloc(0);
  ks = 0;
  ke = 0;
  seq = 0;
  kind = 0;
  private cur: TableCursor | undefined;
  private ti = -1;
  private readonly cursors: (TableCursor | undefined)[];
  /** `tables` sorted by smallest key, pairwise disjoint; `largest[i]` is table i's largest key. */
  constructor(
    private readonly tables: TableReader[],
    private readonly largest: Buffer[],
  ) {
    this.cursors = tables.map(() => undefined);
  }
  private use(i: number): TableCursor {
    this.ti = i;
    let c = this.cursors[i];
    if (!c) c = this.cursors[i] = new TableCursor(this.tables[i]!);
    this.cur = c;
    return c;
  }
  private sync(): void {
    const c = this.cur!;
    this.valid = c.valid;
    if (!c.valid) return;
    this.keyBuf = c.keyBuf;
    this.ks = c.ks;
    this.ke = c.ke;
    this.seq = c.seq;
    this.kind = c.kind;
  }
  private forward(): void {
    while (!this.cur!.valid && this.ti + 1 < this.tables.length) this.use(this.ti + 1).seekFirst();
    this.sync();
  }
  private backward(): void {
    while (!this.cur!.valid && this.ti > 0) this.use(this.ti - 1).seekLast();
    this.sync();
  }
  valueRef(out: ValueRef): void {
    this.cur!.valueRef(out);
  }
  value(): Buffer {
    return this.cur!.value();
  }
  seekFirst(): void {
    if (this.tables.length === 0) return void (this.valid = false);
    this.use(0).seekFirst();
    this.forward();
  }
  seekLast(): void {
    if (this.tables.length === 0) return void (this.valid = false);
    this.use(this.tables.length - 1).seekLast();
    this.backward();
  }
  seekGE(t: Buffer): void {
    let i = 0;
    while (i < this.tables.length && this.largest[i]!.compare(t) < 0) i++;
    if (i === this.tables.length) return void (this.valid = false);
    this.use(i).seekGE(t);
    this.forward();
  }
  seekLE(t: Buffer): void {
    if (this.tables.length === 0) return void (this.valid = false);
    let i = 0;
    while (i < this.tables.length - 1 && this.largest[i]!.compare(t) < 0) i++;
    this.use(i).seekLE(t);
    this.backward();
  }
  next(): void {
    this.cur!.next();
    this.forward();
  }
  prev(): void {
    this.cur!.prev();
    this.backward();
  }
}
