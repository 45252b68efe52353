import { RagError } from '../errors.js';
import { DistHeap } from './heap.js';
import { createSimdDot, type SimdDot } from './simd-dot.js';

/** Options of {@link HnswIndex}. */
export interface HnswOptions {
  /** Vector dimension. */
  dimensions: number;
  /** Links per node per upper layer (layer 0 keeps 2M). @defaultValue 16 */
  M?: number | undefined;
  /** Candidate list size while inserting. @defaultValue 200 */
  efConstruction?: number | undefined;
  /** Candidate list size while searching. @defaultValue 64 */
  efSearch?: number | undefined;
  /** Below this many live vectors, search is exact. @defaultValue 2000 */
  exactBelow?: number | undefined;
  /** Seed of the level generator. @defaultValue 42 */
  seed?: number | undefined;
}

/** One nearest-neighbour result: a node and its cosine similarity. */
export interface VectorHit {
  node: number;
  score: number;
}

/**
 * HNSW (Malkov & Yashunin) over cosine similarity, with Float32Array storage, deletes (tombstones that
 * still route), filtered search, and exact search for small sets.
 *
 * @remarks
 * Vectors are L2-normalised on insert, so the distance is `1 - dot`. Layer 0 keeps up to 2M links and upper
 * layers M, selected with the paper's neighbour heuristic. A filtered search widens `ef` until k accepted
 * results are found, and falls back to an exact scan of the accepted nodes.
 *
 * @example
 * ```ts
 * import { HnswIndex } from '@dataplane/rag';
 *
 * const index = new HnswIndex({ dimensions: 3 });
 * index.add(new Float32Array([1, 0, 0]));
 * index.search(new Float32Array([1, 0.1, 0]), 1); // [{ node: 0, score: 0.99... }]
 * ```
 * @since 0.1.0
 */
export class HnswIndex {
  readonly dimensions: number;
  readonly M: number;
  readonly M0: number;
  readonly efConstruction: number;
  efSearch: number;
  readonly exactBelow: number;
  private vectors: Float32Array;
  /** The query (normalised) of the running search or insert. */
  private qbuf: Float32Array;
  /** WebAssembly SIMD kernel (vectors live in its memory), when available and dimensions % 4 === 0. */
  private readonly simd: SimdDot | undefined;
  private readonly base: number;
  private levels: Int8Array;
  /** Layer-0 links: node * (M0 + 1), first slot is the count. */
  private links0: Int32Array;
  /** Upper-layer links per node: level-major blocks of (M + 1). */
  private upper: (Int32Array | undefined)[] = [];
  private deleted: Uint8Array;
  private count = 0;
  private liveCount = 0;
  private entry = -1;
  private maxLevel = -1;
  private rng: number;
  private visited: Uint32Array;
  private visitMark = 0;
  private readonly cand = new DistHeap(64, false);
  private readonly res = new DistHeap(64, true);
  private readonly levelMult: number;

  constructor(opts: HnswOptions) {
    const d = opts.dimensions;
    if (!Number.isInteger(d) || d <= 0) throw new RagError('RAG_INVALID_ARGUMENT', `dimensions must be a positive integer, got ${String(d)}`);
    this.dimensions = d;
    this.M = opts.M ?? 16;
    if (!Number.isInteger(this.M) || this.M < 2 || this.M > 256) throw new RagError('RAG_INVALID_ARGUMENT', 'M must be an integer in [2, 256]');
    this.M0 = this.M * 2;
    this.efConstruction = Math.max(this.M, opts.efConstruction ?? 200);
    this.efSearch = opts.efSearch ?? 64;
    this.exactBelow = opts.exactBelow ?? 2000;
    this.rng = (opts.seed ?? 42) >>> 0 || 1;
    this.levelMult = 1 / Math.log(this.M);
    const cap = 64;
    this.simd = d % 4 === 0 ? createSimdDot(Math.ceil((d * 4 * (cap + 1)) / 65536)) : undefined;
    this.base = d * 4;
    if (this.simd !== undefined) {
      this.vectors = new Float32Array(this.simd.memory.buffer, this.base, cap * d);
      this.qbuf = new Float32Array(this.simd.memory.buffer, 0, d);
    } else {
      this.vectors = new Float32Array(cap * d);
      this.qbuf = new Float32Array(d);
    }
    this.levels = new Int8Array(cap);
    this.links0 = new Int32Array(cap * (this.M0 + 1));
    this.deleted = new Uint8Array(cap);
    this.visited = new Uint32Array(cap);
  }

  /** Number of stored nodes, deleted included. */
  get nodes(): number {
    return this.count;
  }
  /** Number of live vectors. */
  get size(): number {
    return this.liveCount;
  }
  /** Number of layers of the graph. */
  get layers(): number {
    return this.maxLevel + 1;
  }

  private random(): number {
    // xorshift32
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return (this.rng + 0.5) / 4294967296;
  }

  private grow(): void {
    const cap = this.levels.length * 2;
    const d = this.dimensions;
    if (this.simd !== undefined) {
      const mem = this.simd.memory;
      const need = Math.ceil((this.base + cap * d * 4) / 65536) - mem.buffer.byteLength / 65536;
      if (need > 0) mem.grow(need);
      this.vectors = new Float32Array(mem.buffer, this.base, cap * d);
      this.qbuf = new Float32Array(mem.buffer, 0, d);
    } else {
      const v = new Float32Array(cap * d);
      v.set(this.vectors);
      this.vectors = v;
    }
    const l = new Int8Array(cap);
    l.set(this.levels);
    this.levels = l;
    const l0 = new Int32Array(cap * (this.M0 + 1));
    l0.set(this.links0);
    this.links0 = l0;
    const del = new Uint8Array(cap);
    del.set(this.deleted);
    this.deleted = del;
    this.visited = new Uint32Array(cap);
    this.visitMark = 0;
  }

  /** 1 - dot(q[qOff..], node) in JavaScript; 4-way unrolled. */
  private distAt(q: Float32Array, qOff: number, node: number): number {
    const d = this.dimensions;
    const v = this.vectors;
    const off = node * d;
    let a = 0;
    let b = 0;
    let c = 0;
    let e = 0;
    let i = 0;
    for (; i + 3 < d; i += 4) {
      a += (q[qOff + i] as number) * (v[off + i] as number);
      b += (q[qOff + i + 1] as number) * (v[off + i + 1] as number);
      c += (q[qOff + i + 2] as number) * (v[off + i + 2] as number);
      e += (q[qOff + i + 3] as number) * (v[off + i + 3] as number);
    }
    for (; i < d; i++) a += (q[qOff + i] as number) * (v[off + i] as number);
    return 1 - (a + b + c + e);
  }

  /** Distance from the current query (in `qbuf`) to `node`. */
  private distQ(node: number): number {
    const simd = this.simd;
    if (simd !== undefined) return 1 - simd.dot(0, this.base + node * this.dimensions * 4, this.dimensions >> 2);
    return this.distAt(this.qbuf, 0, node);
  }

  private distNodes(x: number, y: number): number {
    const simd = this.simd;
    if (simd !== undefined) {
      const stride = this.dimensions * 4;
      return 1 - simd.dot(this.base + x * stride, this.base + y * stride, this.dimensions >> 2);
    }
    return this.distAt(this.vectors, x * this.dimensions, y);
  }

  private vectorOf(node: number): Float32Array {
    return this.vectors.subarray(node * this.dimensions, (node + 1) * this.dimensions);
  }

  /** Links of `node` at `level` as [count, ...ids]. */
  private linksAt(node: number, level: number): { arr: Int32Array; off: number; cap: number } {
    if (level === 0) return { arr: this.links0, off: node * (this.M0 + 1), cap: this.M0 };
    const u = this.upper[node] as Int32Array;
    return { arr: u, off: (level - 1) * (this.M + 1), cap: this.M };
  }

  private nextMark(): number {
    this.visitMark++;
    if (this.visitMark === 0xffffffff) {
      this.visited.fill(0);
      this.visitMark = 1;
    }
    return this.visitMark;
  }

  /** Greedy/beam search of one layer; results are left in `this.res` (max-heap of the ef best). */
  private searchLayer(q: Float32Array, entries: readonly number[], ef: number, level: number): void {
    const mark = this.nextMark();
    const cand = this.cand;
    const res = this.res;
    cand.clear();
    res.clear();
    for (const e of entries) {
      const dd = this.distQ(e);
      this.visited[e] = mark;
      cand.push(e, dd);
      res.push(e, dd);
    }
    while (cand.size > 0) {
      const c = cand.topId();
      const cd = cand.topDist();
      if (res.size >= ef && cd > res.topDist()) break;
      cand.pop();
      const arr = level === 0 ? this.links0 : (this.upper[c] as Int32Array);
      const off = level === 0 ? c * (this.M0 + 1) : (level - 1) * (this.M + 1);
      const n = arr[off] as number;
      for (let i = 1; i <= n; i++) {
        const nb = arr[off + i] as number;
        if (this.visited[nb] === mark) continue;
        this.visited[nb] = mark;
        const dd = this.distQ(nb);
        if (res.size < ef || dd < res.topDist()) {
          cand.push(nb, dd);
          res.push(nb, dd);
          if (res.size > ef) res.pop();
        }
      }
    }
  }

  private drainResults(): { ids: number[]; dists: number[] } {
    const ids: number[] = [];
    const dists: number[] = [];
    while (this.res.size > 0) {
      ids.push(this.res.topId());
      dists.push(this.res.topDist());
      this.res.pop();
    }
    ids.reverse();
    dists.reverse();
    return { ids, dists };
  }

  /** The paper's heuristic: keep a candidate only if it is closer to the base than to every kept one. */
  private selectNeighbors(ids: number[], dists: number[], max: number): number[] {
    const kept: number[] = [];
    const pruned: number[] = [];
    for (let i = 0; i < ids.length && kept.length < max; i++) {
      const c = ids[i] as number;
      const dc = dists[i] as number;
      let good = true;
      for (const k of kept) {
        if (this.distNodes(c, k) < dc) {
          good = false;
          break;
        }
      }
      if (good) kept.push(c);
      else pruned.push(c);
    }
    for (let i = 0; i < pruned.length && kept.length < max; i++) kept.push(pruned[i] as number);
    return kept;
  }

  private connect(node: number, level: number, neighbors: readonly number[]): void {
    const { arr, off } = this.linksAt(node, level);
    arr[off] = neighbors.length;
    for (let i = 0; i < neighbors.length; i++) arr[off + 1 + i] = neighbors[i] as number;
  }

  private addLink(from: number, to: number, level: number): void {
    const { arr, off, cap } = this.linksAt(from, level);
    const n = arr[off] as number;
    if (n < cap) {
      arr[off + 1 + n] = to;
      arr[off] = n + 1;
      return;
    }
    // Full: re-select among existing links plus the new one.
    const cands: { id: number; d: number }[] = [{ id: to, d: this.distNodes(from, to) }];
    for (let i = 1; i <= n; i++) {
      const id = arr[off + i] as number;
      cands.push({ id, d: this.distNodes(from, id) });
    }
    cands.sort((a, b) => a.d - b.d);
    const kept = this.selectNeighbors(
      cands.map((c) => c.id),
      cands.map((c) => c.d),
      cap,
    );
    this.connect(from, level, kept);
  }

  /**
   * Adds a vector (copied and normalised); returns its node number.
   *
   * @param vector - the vector (its length must equal `dimensions`).
   * @returns the node number.
   * @throws RagError `RAG_INVALID_ARGUMENT` on a wrong dimension or a non-finite/zero vector.
   */
  add(vector: Float32Array): number {
    const d = this.dimensions;
    if (!(vector instanceof Float32Array) || vector.length !== d) {
      throw new RagError('RAG_INVALID_ARGUMENT', `vector must be a Float32Array of length ${d}`);
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += (vector[i] as number) * (vector[i] as number);
    if (!Number.isFinite(norm) || norm === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'vector must be finite and non-zero');
    if (this.count === this.levels.length) this.grow();
    const node = this.count++;
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < d; i++) this.vectors[node * d + i] = (vector[i] as number) * inv;
    const level = Math.min(15, Math.floor(-Math.log(this.random()) * this.levelMult));
    this.levels[node] = level;
    this.links0[node * (this.M0 + 1)] = 0;
    this.upper[node] = level > 0 ? new Int32Array(level * (this.M + 1)) : undefined;
    this.liveCount++;
    if (this.entry < 0) {
      this.entry = node;
      this.maxLevel = level;
      return node;
    }
    const q = this.qbuf;
    q.set(this.vectorOf(node));
    let ep = this.entry;
    for (let l = this.maxLevel; l > level; l--) ep = this.greedy(q, ep, l);
    let entries = [ep];
    for (let l = Math.min(level, this.maxLevel); l >= 0; l--) {
      this.searchLayer(q, entries, this.efConstruction, l);
      const { ids, dists } = this.drainResults();
      const neighbors = this.selectNeighbors(ids, dists, this.M);
      this.connect(node, l, neighbors);
      for (const nb of neighbors) this.addLink(nb, node, l);
      entries = ids;
    }
    if (level > this.maxLevel) {
      this.maxLevel = level;
      this.entry = node;
    }
    return node;
  }

  private greedy(q: Float32Array, start: number, level: number): number {
    let cur = start;
    let curD = this.distQ(cur);
    for (let changed = true; changed; ) {
      changed = false;
      const arr = level === 0 ? this.links0 : (this.upper[cur] as Int32Array);
      const off = level === 0 ? cur * (this.M0 + 1) : (level - 1) * (this.M + 1);
      const n = arr[off] as number;
      for (let i = 1; i <= n; i++) {
        const nb = arr[off + i] as number;
        const dd = this.distQ(nb);
        if (dd < curD) {
          curD = dd;
          cur = nb;
          changed = true;
        }
      }
    }
    return cur;
  }

  /** Marks a node deleted: it is never returned but still routes searches. */
  delete(node: number): void {
    if (node < 0 || node >= this.count || this.deleted[node] === 1) return;
    this.deleted[node] = 1;
    this.liveCount--;
  }

  isDeleted(node: number): boolean {
    return this.deleted[node] === 1;
  }

  /**
   * The k most similar live vectors, best first.
   *
   * @param query - the query vector (normalised internally).
   * @param k - how many results.
   * @param opts - `ef` overrides efSearch; `accept` filters nodes; `exact` forces a scan.
   * @returns hits with cosine similarity.
   * @throws RagError `RAG_INVALID_ARGUMENT` on a wrong dimension.
   */
  search(
    query: Float32Array,
    k: number,
    opts: { ef?: number | undefined; accept?: ((node: number) => boolean) | undefined; exact?: boolean | undefined } = {},
  ): VectorHit[] {
    const d = this.dimensions;
    if (query.length !== d) throw new RagError('RAG_INVALID_ARGUMENT', `query must have length ${d}`);
    if (k <= 0 || this.liveCount === 0) return [];
    let norm = 0;
    for (let i = 0; i < d; i++) norm += (query[i] as number) * (query[i] as number);
    const q = this.qbuf;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < d; i++) q[i] = (query[i] as number) * inv;
    const accept = opts.accept;
    if (opts.exact === true || this.liveCount <= this.exactBelow) return this.exact(q, k, accept);
    let ef = Math.max(opts.ef ?? this.efSearch, k);
    for (;;) {
      let ep = this.entry;
      for (let l = this.maxLevel; l > 0; l--) ep = this.greedy(q, ep, l);
      this.searchLayer(q, [ep], ef, 0);
      const { ids, dists } = this.drainResults();
      const out: VectorHit[] = [];
      for (let i = 0; i < ids.length && out.length < k; i++) {
        const id = ids[i] as number;
        if (this.deleted[id] === 1 || (accept !== undefined && !accept(id))) continue;
        out.push({ node: id, score: 1 - (dists[i] as number) });
      }
      if (out.length >= k || ef >= this.count) return out;
      if (ef * 4 >= this.count / 2) return this.exact(q, k, accept);
      ef *= 4;
    }
  }

  private exact(q: Float32Array, k: number, accept: ((node: number) => boolean) | undefined): VectorHit[] {
    const res = this.res;
    res.clear();
    for (let n = 0; n < this.count; n++) {
      if (this.deleted[n] === 1 || (accept !== undefined && !accept(n))) continue;
      const dd = this.distQ(n);
      if (res.size < k) res.push(n, dd);
      else if (dd < res.topDist()) {
        res.pop();
        res.push(n, dd);
      }
    }
    const { ids, dists } = this.drainResults();
    return ids.map((node, i) => ({ node, score: 1 - (dists[i] as number) }));
  }

  /** Serialisable snapshot (typed arrays). @internal */
  snapshot(): HnswSnapshot {
    const upperLens = new Int32Array(this.count);
    let total = 0;
    for (let n = 0; n < this.count; n++) {
      const u = this.upper[n];
      upperLens[n] = u === undefined ? 0 : u.length;
      total += u === undefined ? 0 : u.length;
    }
    const upper = new Int32Array(total);
    let off = 0;
    for (let n = 0; n < this.count; n++) {
      const u = this.upper[n];
      if (u !== undefined) {
        upper.set(u, off);
        off += u.length;
      }
    }
    return {
      count: this.count,
      liveCount: this.liveCount,
      entry: this.entry,
      maxLevel: this.maxLevel,
      rng: this.rng,
      vectors: this.vectors.slice(0, this.count * this.dimensions),
      levels: this.levels.slice(0, this.count),
      links0: this.links0.slice(0, this.count * (this.M0 + 1)),
      deleted: this.deleted.slice(0, this.count),
      upperLens,
      upper,
    };
  }

  /** Restores a snapshot into this empty index. @internal */
  restore(s: HnswSnapshot): void {
    while (this.levels.length < s.count) this.grow();
    this.vectors.set(s.vectors);
    this.levels.set(s.levels);
    this.links0.set(s.links0);
    this.deleted.set(s.deleted);
    let off = 0;
    this.upper = [];
    for (let n = 0; n < s.count; n++) {
      const len = s.upperLens[n] as number;
      this.upper[n] = len === 0 ? undefined : s.upper.slice(off, off + len);
      off += len;
    }
    this.count = s.count;
    this.liveCount = s.liveCount;
    this.entry = s.entry;
    this.maxLevel = s.maxLevel;
    this.rng = s.rng;
  }
}

/** @internal */
export interface HnswSnapshot {
  count: number;
  liveCount: number;
  entry: number;
  maxLevel: number;
  rng: number;
  vectors: Float32Array;
  levels: Int8Array;
  links0: Int32Array;
  deleted: Uint8Array;
  upperLens: Int32Array;
  upper: Int32Array;
}
