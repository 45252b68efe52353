/** Byte-bounded LRU cache of decoded-ready data blocks. Internal. */
export class BlockCache {
  private readonly map = new Map<number, Buffer>();
  bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get(key: number): Buffer | undefined {
    const b = this.map.get(key);
    if (b === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, b);
    return b;
  }

  set(key: number, block: Buffer): void {
    if (block.length > this.capacity) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.length;
      this.map.delete(key);
    }
    this.map.set(key, block);
    this.bytes += block.length;
    while (this.bytes > this.capacity) {
      const first = this.map.keys().next();
      if (first.done) break;
      this.bytes -= this.map.get(first.value)!.length;
      this.map.delete(first.value);
    }
  }

  /** Drops every block of table `id` (after the table is deleted). */
  evictTable(id: number, blocks: number): void {
    for (let i = 0; i < blocks; i++) {
      const k = cacheKey(id, i);
      const b = this.map.get(k);
      if (b) {
        this.bytes -= b.length;
        this.map.delete(k);
      }
    }
  }
}

/** Cache key of block `i` of table `id`. */
export function cacheKey(id: number, i: number): number {
  return id * 2 ** 22 + i;
}
