/**
 * Append-only, delta-encoded postings of one term: for each document (ascending doc numbers) a varint
 * doc-number delta followed by one varint term frequency per field.
 *
 * @internal
 */
export class PostingList {
  bytes: Uint8Array;
  length = 0;
  /** Number of entries (including entries of deleted docs until compaction). */
  count = 0;
  lastDoc = -1;

  constructor(capacity = 16) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Appends `doc` (must be greater than the last one) with its per-field frequencies. */
  append(doc: number, tfs: ArrayLike<number>): void {
    this.ensure(5 * (tfs.length + 1));
    this.writeVarint(doc - this.lastDoc);
    for (let i = 0; i < tfs.length; i++) this.writeVarint(tfs[i] ?? 0);
    this.lastDoc = doc;
    this.count++;
  }

  /**
   * Decodes into `docs` and `tfs` (stride `fields`), skipping docs for which `live[doc]` is 0 when `live`
   * is given. Returns the number of decoded entries.
   */
  decode(fields: number, live: Uint8Array | undefined, docs: Int32Array, tfs: Float32Array): number {
    const b = this.bytes;
    const end = this.length;
    let p = 0;
    let doc = -1;
    let n = 0;
    while (p < end) {
      let v = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = b[p++] as number;
        v += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
      doc += v;
      const keep = live === undefined || live[doc] === 1;
      for (let f = 0; f < fields; f++) {
        let t = 0;
        let s = 0;
        do {
          byte = b[p++] as number;
          t += (byte & 0x7f) * 2 ** s;
          s += 7;
        } while (byte >= 0x80);
        if (keep) tfs[n * fields + f] = t;
      }
      if (keep) docs[n++] = doc;
    }
    return n;
  }

  /** Memory held by the encoded bytes. */
  get byteLength(): number {
    return this.bytes.byteLength;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.bytes.length) return;
    let cap = this.bytes.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  private writeVarint(v: number): void {
    let x = v;
    while (x >= 0x80) {
      this.bytes[this.length++] = (x & 0x7f) | 0x80;
      x = Math.floor(x / 128);
    }
    this.bytes[this.length++] = x;
  }

  /** Shrinks the buffer to its used length. */
  trim(): void {
    if (this.bytes.length > this.length) this.bytes = this.bytes.slice(0, this.length);
  }
}
