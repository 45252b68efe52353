/**
 * @internal The in-memory head: per-series append buffers carved out of shared typed-array slabs. Points
 * live in fixed-size blocks (`BLOCK` points) of two Float64Array slabs (time, value); a series is a
 * linked list of blocks. The slabs are pages of `PAGE_BLOCKS` blocks added as the head grows, so growth
 * never copies points. No JS object per point; the whole arena is recycled at flush.
 */
export const BLOCK = 128;
/** Blocks per slab page (a page holds PAGE_BLOCKS * BLOCK points). */
const PAGE_SHIFT = 8;
const PAGE_BLOCKS = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_BLOCKS - 1;

export class Head {
  private readonly tsPages: Float64Array[] = [];
  private readonly vsPages: Float64Array[] = [];
  private next: Int32Array;
  private fill: Uint16Array;
  private blocks = 0;
  private first: Int32Array;
  private last: Int32Array;
  private counts: Uint32Array;
  /** 1 when a slot's head points may not be strictly increasing in time (set conservatively). */
  private unsorted: Uint8Array;
  /** Slots with at least one point, in first-append order. */
  readonly active: number[] = [];
  points = 0;

  constructor(initialBlocks = 1024, initialSlots = 1024) {
    this.next = new Int32Array(initialBlocks);
    this.fill = new Uint16Array(initialBlocks);
    this.first = new Int32Array(initialSlots).fill(-1);
    this.last = new Int32Array(initialSlots).fill(-1);
    this.counts = new Uint32Array(initialSlots);
    this.unsorted = new Uint8Array(initialSlots);
  }

  private growSlots(slot: number): void {
    let cap = this.first.length * 2;
    while (cap <= slot) cap *= 2;
    const f = new Int32Array(cap).fill(-1);
    f.set(this.first);
    const l = new Int32Array(cap).fill(-1);
    l.set(this.last);
    const c = new Uint32Array(cap);
    c.set(this.counts);
    const u = new Uint8Array(cap);
    u.set(this.unsorted);
    this.first = f;
    this.last = l;
    this.counts = c;
    this.unsorted = u;
  }

  private newBlock(): number {
    if (this.blocks === this.next.length) {
      const cap = this.next.length * 2;
      const nx = new Int32Array(cap);
      nx.set(this.next);
      const fl = new Uint16Array(cap);
      fl.set(this.fill);
      this.next = nx;
      this.fill = fl;
    }
    const b = this.blocks++;
    if (b >>> PAGE_SHIFT === this.tsPages.length) {
      this.tsPages.push(new Float64Array(PAGE_BLOCKS * BLOCK));
      this.vsPages.push(new Float64Array(PAGE_BLOCKS * BLOCK));
    }
    this.next[b] = -1;
    this.fill[b] = 0;
    return b;
  }

  /** Time of the last point appended to a slot (which has at least one). */
  private lastTime(slot: number): number {
    const b = this.last[slot]!;
    return this.tsPages[b >>> PAGE_SHIFT]![(b & PAGE_MASK) * BLOCK + this.fill[b]! - 1]!;
  }

  /** True when a slot's points are known to be strictly increasing in time (append order is time order). */
  isSorted(slot: number): boolean {
    return slot >= this.unsorted.length || this.unsorted[slot] === 0;
  }

  /** Appends one point to a series slot. */
  append(slot: number, t: number, v: number): void {
    if (slot >= this.first.length) this.growSlots(slot);
    if (this.counts[slot]! > 0 && !(t > this.lastTime(slot))) this.unsorted[slot] = 1;
    let b = this.last[slot]!;
    if (b < 0) {
      b = this.newBlock();
      this.first[slot] = b;
      this.last[slot] = b;
      this.active.push(slot);
    } else if (this.fill[b] === BLOCK) {
      const nb = this.newBlock();
      this.next[b] = nb;
      this.last[slot] = nb;
      b = nb;
    }
    const i = (b & PAGE_MASK) * BLOCK + this.fill[b]!;
    this.tsPages[b >>> PAGE_SHIFT]![i] = t;
    this.vsPages[b >>> PAGE_SHIFT]![i] = v;
    this.fill[b]!++;
    this.counts[slot]!++;
    this.points++;
  }

  /**
   * Appends `n` points: point i goes to slot `slots[index[i]]` (or `slots[i]` without `index`). One
   * loop over typed arrays with the slabs in locals; equivalent to `append` per point. `lastT`/`lastV`
   * (indexed by slot; the newest point per series, across flushes) are raised to each point whose time
   * is >= the slot's `lastT`. A point not newer than `lastT` (or with `lastT` NaN, unknown) marks the
   * slot unsorted; as `lastT` is at least the slot's newest head point, a slot left unmarked is sorted.
   */
  appendBatch(slots: Uint32Array, index: Uint32Array | undefined, ts: Float64Array, vs: Float64Array, n: number, lastT: Float64Array, lastV: Float64Array): void {
    let maxSlot = 0;
    for (let j = 0; j < slots.length; j++) if (slots[j]! > maxSlot) maxSlot = slots[j]!;
    if (maxSlot >= this.first.length) this.growSlots(maxSlot);
    const first = this.first;
    const last = this.last;
    const counts = this.counts;
    const unsorted = this.unsorted;
    const tsPages = this.tsPages;
    const vsPages = this.vsPages;
    let fill = this.fill;
    for (let i = 0; i < n; i++) {
      const slot = index === undefined ? slots[i]! : slots[index[i]!]!;
      let b = last[slot]!;
      if (b < 0 || fill[b] === BLOCK) {
        const nb = this.newBlock();
        if (b < 0) {
          first[slot] = nb;
          this.active.push(slot);
        } else this.next[b] = nb;
        last[slot] = nb;
        b = nb;
        fill = this.fill;
      }
      const f = fill[b]!;
      const at = (b & PAGE_MASK) * BLOCK + f;
      const page = b >>> PAGE_SHIFT;
      const t = ts[i]!;
      const v = vs[i]!;
      tsPages[page]![at] = t;
      vsPages[page]![at] = v;
      fill[b] = f + 1;
      counts[slot]!++;
      const lt = lastT[slot]!;
      if (t >= lt) {
        if (t === lt) unsorted[slot] = 1;
        lastT[slot] = t;
        lastV[slot] = v;
      } else unsorted[slot] = 1;
    }
    this.points += n;
  }

  /**
   * A slot's points in append order, copied into `ts`/`vs` (each at least `count(slot)` long).
   *
   * @returns the number of points copied.
   */
  readInto(slot: number, ts: Float64Array, vs: Float64Array): number {
    const n = this.count(slot);
    let at = 0;
    for (let b = n > 0 ? this.first[slot]! : -1; b >= 0; b = this.next[b]!) {
      const f = this.fill[b]!;
      const o = (b & PAGE_MASK) * BLOCK;
      ts.set(this.tsPages[b >>> PAGE_SHIFT]!.subarray(o, o + f), at);
      vs.set(this.vsPages[b >>> PAGE_SHIFT]!.subarray(o, o + f), at);
      at += f;
    }
    return at;
  }

  /** The largest point count of any slot. */
  maxCount(): number {
    let m = 0;
    for (const s of this.active) if (this.counts[s]! > m) m = this.counts[s]!;
    return m;
  }

  count(slot: number): number {
    return slot < this.counts.length ? this.counts[slot]! : 0;
  }

  /** Copies a slot's points (in append order) into new arrays. */
  read(slot: number): { ts: Float64Array; vs: Float64Array } {
    const n = this.count(slot);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    this.readInto(slot, ts, vs);
    return { ts, vs };
  }

  /** Forgets every point; the slabs are kept for reuse. */
  reset(): void {
    for (const s of this.active) {
      this.first[s] = -1;
      this.last[s] = -1;
      this.counts[s] = 0;
      this.unsorted[s] = 0;
    }
    this.active.length = 0;
    this.blocks = 0;
    this.points = 0;
  }
}

/**
 * @internal Sorts points by time, keeping the last-appended value of each duplicate timestamp
 * (`order` gives each point's write order; ties broken by it). Returns the number of points kept.
 */
export function sortDedup(ts: Float64Array, vs: Float64Array, order?: Float64Array): { ts: Float64Array; vs: Float64Array } {
  const n = ts.length;
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (ts[i]! <= ts[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return { ts, vs };
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => ts[a]! - ts[b]! || (order ? order[a]! - order[b]! : a - b));
  const ot = new Float64Array(n);
  const ov = new Float64Array(n);
  let k = 0;
  for (let j = 0; j < n; j++) {
    const i = idx[j]!;
    if (k > 0 && ot[k - 1] === ts[i]) {
      ov[k - 1] = vs[i]!;
      continue;
    }
    ot[k] = ts[i]!;
    ov[k] = vs[i]!;
    k++;
  }
  return { ts: ot.subarray(0, k), vs: ov.subarray(0, k) };
}
