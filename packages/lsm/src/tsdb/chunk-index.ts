/**
 * @internal In-memory locator of stored chunks, per series slot: (window start, flush seq, first time,
 * last time) of every chunk it knows, so that a query over few series fetches exactly the chunks that
 * overlap its range with point lookups instead of opening an engine iterator per series.
 *
 * The flush records every chunk it writes, so on a store created by this process the index is
 * complete. Chunks stored before the open are learnt per slot and time interval: a slot's entries are
 * complete for `[from, to)` once a range scan (engine iterator with that time range) has listed its
 * chunks there, and chunks written later come from the flush, so a covered interval stays complete. Entries whose
 * chunk no longer exists (dropped by retention) are removed when a lookup misses.
 */
export class ChunkIndex {
  /** Per slot: flat [start, seq, min, max, ...], sorted by (start, seq). */
  private readonly entries: (number[] | undefined)[] = [];
  /** Per slot: flat [from, to, ...] disjoint sorted intervals known complete. */
  private readonly covered: (number[] | undefined)[] = [];

  /** Flush sequence of the first chunk written by this process (undefined: none yet). */
  private firstFlushSeq: number | undefined;

  /**
   * @param cutoff - the retention cutoff now (`-Infinity` without retention): entries of chunks that
   * end before it are dropped as the flush adds new ones, so a series' entries stay within retention.
   */
  constructor(private readonly cutoff: () => number) {}

  /** Records a chunk the flush writes (and forgets the series' chunks past retention). */
  flushed(slot: number, start: number, seq: number, min: number, max: number): void {
    if (this.firstFlushSeq === undefined) this.firstFlushSeq = seq;
    const e = this.entries[slot];
    if (e !== undefined && e.length > 0 && e[3]! < this.cutoff()) {
      const cut = this.cutoff();
      let k = 0;
      while (k < e.length && e[k + 3]! < cut) k += 4;
      e.splice(0, k);
    }
    this.add(slot, start, seq, min, max);
  }

  /**
   * True when every stored chunk is indexed: none was written before this process opened the store
   * (flush sequences start at 1; `nextSeq` is the next one to be written).
   */
  complete(nextSeq: number): boolean {
    return (this.firstFlushSeq ?? nextSeq) <= 1;
  }

  /** Records a chunk (idempotent). */
  add(slot: number, start: number, seq: number, min: number, max: number): void {
    let e = this.entries[slot];
    if (e === undefined) this.entries[slot] = e = [];
    let i = e.length;
    // flushes append in (start, seq) order almost always: search from the end
    while (i > 0 && (e[i - 4]! > start || (e[i - 4] === start && e[i - 3]! > seq))) i -= 4;
    if (i > 0 && e[i - 4] === start && e[i - 3] === seq) return;
    e.splice(i, 0, start, seq, min, max);
  }

  /** Forgets a chunk. */
  remove(slot: number, start: number, seq: number): void {
    const e = this.entries[slot];
    if (e === undefined) return;
    for (let i = 0; i < e.length; i += 4) {
      if (e[i] === start && e[i + 1] === seq) {
        e.splice(i, 4);
        return;
      }
    }
  }

  /** Marks `[from, to)` complete for a slot (after a range scan listed its chunks there). */
  cover(slot: number, from: number, to: number): void {
    const c = this.covered[slot] ?? [];
    const out: number[] = [];
    let f = from;
    let t = to;
    let placed = false;
    for (let i = 0; i < c.length; i += 2) {
      const a = c[i]!;
      const b = c[i + 1]!;
      if (b < f) out.push(a, b);
      else if (a > t) {
        if (!placed) {
          out.push(f, t);
          placed = true;
        }
        out.push(a, b);
      } else {
        f = Math.min(f, a);
        t = Math.max(t, b);
      }
    }
    if (!placed) out.push(f, t);
    this.covered[slot] = out;
  }

  /** True when the slot's entries are complete for `[from, to)`. */
  covers(slot: number, from: number, to: number): boolean {
    const c = this.covered[slot];
    if (c === undefined) return false;
    for (let i = 0; i < c.length; i += 2) if (c[i]! <= from && c[i + 1]! >= to) return true;
    return false;
  }

  /** Number of chunks known for the slot. */
  count(slot: number): number {
    return (this.entries[slot]?.length ?? 0) / 4;
  }

  /**
   * Writes to `out` from index `at` the (start, seq) of every known chunk of the slot with a point
   * time in `[from, to)`; returns the index past the last one written (`at` when none). Writing at an
   * index lets a caller reuse one array for many calls (no shrink and regrow between them).
   */
  overlapping(slot: number, wFrom: number, wTo: number, from: number, to: number, out: number[], at = out.length): number {
    const e = this.entries[slot];
    if (e === undefined) return at;
    let lo = 0;
    let hi = e.length / 4;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid * 4]! < wFrom) lo = mid + 1;
      else hi = mid;
    }
    let k = at;
    for (let i = lo * 4; i < e.length && e[i]! <= wTo; i += 4) {
      if (e[i + 3]! >= from && e[i + 2]! < to) {
        out[k++] = e[i]!;
        out[k++] = e[i + 1]!;
      }
    }
    return k;
  }
}
