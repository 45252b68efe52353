/**
 * A binary heap of (id, distance) pairs on typed arrays: a min-heap, or a max-heap when `max` is set.
 *
 * @internal
 */
export class DistHeap {
  ids: Int32Array;
  dists: Float32Array;
  size = 0;

  constructor(
    capacity: number,
    private readonly max: boolean,
  ) {
    this.ids = new Int32Array(Math.max(4, capacity));
    this.dists = new Float32Array(Math.max(4, capacity));
  }

  clear(): void {
    this.size = 0;
  }

  private before(a: number, b: number): boolean {
    return this.max ? a > b : a < b;
  }

  push(id: number, dist: number): void {
    if (this.size === this.ids.length) {
      const ids = new Int32Array(this.ids.length * 2);
      ids.set(this.ids);
      this.ids = ids;
      const dists = new Float32Array(this.dists.length * 2);
      dists.set(this.dists);
      this.dists = dists;
    }
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(dist, this.dists[p] as number)) break;
      this.ids[i] = this.ids[p] as number;
      this.dists[i] = this.dists[p] as number;
      i = p;
    }
    this.ids[i] = id;
    this.dists[i] = dist;
  }

  topId(): number {
    return this.ids[0] as number;
  }
  topDist(): number {
    return this.dists[0] as number;
  }

  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const id = this.ids[n] as number;
    const dist = this.dists[n] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(this.dists[r] as number, this.dists[l] as number) ? r : l;
      if (!this.before(this.dists[c] as number, dist)) break;
      this.ids[i] = this.ids[c] as number;
      this.dists[i] = this.dists[c] as number;
      i = c;
    }
    this.ids[i] = id;
    this.dists[i] = dist;
  }
}
