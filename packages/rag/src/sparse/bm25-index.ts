import type { Analyzer } from '../retrieval-types.js';
import { PostingList } from './postings.js';
import { TopK } from './top-k.js';

/** A field of the sparse index. @internal */
export interface SparseField {
  name: string;
  boost: number;
  b: number;
  analyzer: Analyzer;
}

/** A weighted query term. @internal */
export interface QueryTerm {
  term: string;
  weight: number;
}

interface Decoded {
  count: number;
  docs: Int32Array;
  tfs: Float32Array;
  ubVersion: number;
  ub: number;
}

/**
 * BM25F inverted index over typed-array, delta-encoded postings, with MaxScore top-k.
 *
 * @remarks
 * Every mutation is synchronous, so a search (also synchronous) always sees a consistent view. Deleted
 * documents are tombstoned (document frequencies and lengths are updated at once) and their postings are
 * dropped by a compaction when tombstones outnumber live documents.
 *
 * @internal
 */
export class Bm25Index {
  readonly fields: readonly SparseField[];
  readonly k1: number;
  private readonly nf: number;
  private readonly terms = new Map<string, PostingList>();
  private readonly df = new Map<string, number>();
  private readonly decoded = new Map<string, Decoded>();
  private live = new Uint8Array(64);
  private lens = new Float32Array(64);
  private readonly lenSum: Float64Array;
  private nextDoc = 0;
  private liveCount = 0;
  private version = 0;

  constructor(fields: readonly SparseField[], k1: number) {
    this.fields = fields;
    this.k1 = k1;
    this.nf = fields.length;
    this.lenSum = new Float64Array(this.nf);
  }

  get size(): number {
    return this.liveCount;
  }
  get termCount(): number {
    return this.df.size;
  }
  get tombstones(): number {
    return this.nextDoc - this.liveCount - this.compactedDead;
  }
  private compactedDead = 0;

  get postingsBytes(): number {
    let n = 0;
    for (const p of this.terms.values()) n += p.byteLength;
    return n + this.live.byteLength + this.lens.byteLength;
  }

  isLive(doc: number): boolean {
    return this.live[doc] === 1;
  }

  /** Term frequencies per field of a document's text. */
  private termFreqs(text: Record<string, string>, lens?: Float32Array): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (let f = 0; f < this.nf; f++) {
      const field = this.fields[f] as SparseField;
      const value = text[field.name];
      if (value === undefined) continue;
      const toks = field.analyzer.analyze(value);
      if (lens !== undefined) lens[f] = toks.length;
      for (const tok of toks) {
        let a = m.get(tok.term);
        if (a === undefined) {
          a = new Float32Array(this.nf);
          m.set(tok.term, a);
        }
        a[f] = (a[f] as number) + 1;
      }
    }
    return m;
  }

  /** Indexes a document; returns its doc number. */
  add(text: Record<string, string>): number {
    const doc = this.nextDoc++;
    if (doc >= this.live.length) {
      const live = new Uint8Array(this.live.length * 2);
      live.set(this.live);
      this.live = live;
    }
    if ((doc + 1) * this.nf > this.lens.length) {
      const lens = new Float32Array(Math.max(this.lens.length * 2, (doc + 1) * this.nf));
      lens.set(this.lens);
      this.lens = lens;
    }
    const lens = new Float32Array(this.nf);
    const freqs = this.termFreqs(text, lens);
    for (const [term, tfs] of freqs) {
      let p = this.terms.get(term);
      if (p === undefined) {
        p = new PostingList();
        this.terms.set(term, p);
      }
      p.append(doc, tfs);
      this.df.set(term, (this.df.get(term) ?? 0) + 1);
    }
    for (let f = 0; f < this.nf; f++) {
      this.lens[doc * this.nf + f] = lens[f] as number;
      this.lenSum[f] = (this.lenSum[f] as number) + (lens[f] as number);
    }
    this.live[doc] = 1;
    this.liveCount++;
    this.version++;
    return doc;
  }

  /** Tombstones a document (its text is needed to update document frequencies). */
  remove(doc: number, text: Record<string, string>): void {
    if (this.live[doc] !== 1) return;
    this.live[doc] = 0;
    this.liveCount--;
    for (const term of this.termFreqs(text).keys()) {
      const d = (this.df.get(term) ?? 1) - 1;
      if (d <= 0) {
        this.df.delete(term);
        this.terms.delete(term);
        this.decoded.delete(term);
      } else this.df.set(term, d);
    }
    for (let f = 0; f < this.nf; f++) this.lenSum[f] = (this.lenSum[f] as number) - (this.lens[doc * this.nf + f] as number);
    this.version++;
    if (this.tombstones > 1000 && this.tombstones > this.liveCount) this.compact();
  }

  /** Drops postings of deleted documents. */
  compact(): void {
    for (const [term, p] of this.terms) {
      const docs = new Int32Array(p.count);
      const tfs = new Float32Array(p.count * this.nf);
      const n = p.decode(this.nf, this.live, docs, tfs);
      const q = new PostingList(Math.max(16, p.length));
      for (let i = 0; i < n; i++) q.append(docs[i] as number, tfs.subarray(i * this.nf, (i + 1) * this.nf));
      q.trim();
      this.terms.set(term, q);
    }
    this.decoded.clear();
    this.compactedDead = this.nextDoc - this.liveCount;
    this.version++;
  }

  idf(term: string): number {
    const df = this.df.get(term) ?? 0;
    if (df === 0) return 0;
    return Math.log(1 + (this.liveCount - df + 0.5) / (df + 0.5));
  }

  private postings(term: string): Decoded | undefined {
    const p = this.terms.get(term);
    if (p === undefined) return undefined;
    let d = this.decoded.get(term);
    if (d === undefined || d.count !== p.count) {
      const docs = new Int32Array(p.count);
      const tfs = new Float32Array(p.count * this.nf);
      p.decode(this.nf, undefined, docs, tfs);
      d = { count: p.count, docs, tfs, ubVersion: -1, ub: 0 };
      if (this.decoded.size > 20_000) this.decoded.clear();
      this.decoded.set(term, d);
    }
    return d;
  }

  /** Normalised pseudo term frequency of entry `i` of a decoded list (BM25F). */
  private tfTilde(d: Decoded, i: number): number {
    const nf = this.nf;
    const doc = d.docs[i] as number;
    let t = 0;
    for (let f = 0; f < nf; f++) {
      const tf = d.tfs[i * nf + f] as number;
      if (tf === 0) continue;
      const field = this.fields[f] as SparseField;
      const avg = this.liveCount === 0 ? 1 : (this.lenSum[f] as number) / this.liveCount || 1;
      t += (field.boost * tf) / (1 - field.b + (field.b * (this.lens[doc * nf + f] as number)) / avg);
    }
    return t;
  }

  private upperBound(d: Decoded, idf: number): number {
    if (d.ubVersion !== this.version) {
      let max = 0;
      for (let i = 0; i < d.count; i++) {
        if (this.live[d.docs[i] as number] !== 1) continue;
        const t = this.tfTilde(d, i);
        if (t > max) max = t;
      }
      d.ub = max;
      d.ubVersion = this.version;
    }
    const t = d.ub;
    return (idf * t * (this.k1 + 1)) / (t + this.k1);
  }

  /**
   * Top-k documents for weighted terms. `accept` (optional) filters doc numbers. `exhaustive` scores every
   * posting (the reference the MaxScore path is tested against).
   */
  search(
    terms: readonly QueryTerm[],
    k: number,
    accept?: ((doc: number) => boolean) | undefined,
    exhaustive = false,
  ): { doc: number; score: number }[] {
    const lists: { d: Decoded; w: number; ub: number }[] = [];
    for (const qt of terms) {
      const d = this.postings(qt.term);
      if (d === undefined) continue;
      const w = qt.weight * this.idf(qt.term);
      if (w <= 0) continue;
      lists.push({ d, w, ub: exhaustive ? 0 : this.upperBound(d, w) });
    }
    const top = new TopK(k);
    if (lists.length === 0 || k === 0) return [];
    const k1 = this.k1;
    const contrib = (l: { d: Decoded; w: number }, i: number): number => {
      const t = this.tfTilde(l.d, i);
      return (l.w * t * (k1 + 1)) / (t + k1);
    };
    if (exhaustive) {
      const acc = new Map<number, number>();
      for (const l of lists) {
        for (let i = 0; i < l.d.count; i++) {
          const doc = l.d.docs[i] as number;
          if (this.live[doc] !== 1) continue;
          acc.set(doc, (acc.get(doc) ?? 0) + contrib(l, i));
        }
      }
      for (const [doc, s] of acc) if (accept === undefined || accept(doc)) top.push(doc, s);
      return top.sorted();
    }
    // MaxScore (Turtle & Flood): lists sorted by upper bound; lists whose cumulative bound cannot beat the
    // threshold are "non-essential" and only probed for docs found in the essential lists.
    lists.sort((a, b) => a.ub - b.ub);
    const n = lists.length;
    const prefix = new Float64Array(n);
    let run = 0;
    for (let i = 0; i < n; i++) {
      run += (lists[i] as { ub: number }).ub;
      prefix[i] = run;
    }
    const cur = new Int32Array(n);
    let firstEssential = 0;
    for (;;) {
      let next = 2147483647;
      for (let i = firstEssential; i < n; i++) {
        const l = lists[i] as { d: Decoded };
        const c = cur[i] as number;
        if (c < l.d.count) {
          const doc = l.d.docs[c] as number;
          if (doc < next) next = doc;
        }
      }
      if (next === 2147483647) break;
      let score = 0;
      for (let i = firstEssential; i < n; i++) {
        const l = lists[i] as { d: Decoded; w: number };
        const c = cur[i] as number;
        if (c < l.d.count && l.d.docs[c] === next) {
          score += contrib(l, c);
          cur[i] = c + 1;
        }
      }
      if (this.live[next] !== 1) continue;
      const threshold = top.threshold;
      let pruned = false;
      for (let i = firstEssential - 1; i >= 0; i--) {
        if (score + (prefix[i] as number) < threshold) {
          pruned = true;
          break;
        }
        const l = lists[i] as { d: Decoded; w: number };
        const c = seek(l.d.docs, l.d.count, cur[i] as number, next);
        cur[i] = c;
        if (c < l.d.count && l.d.docs[c] === next) score += contrib(l, c);
      }
      if (pruned || score < threshold) continue;
      if (accept !== undefined && !accept(next)) continue;
      top.push(next, score);
      const t = top.threshold;
      while (firstEssential < n && (prefix[firstEssential] as number) < t) firstEssential++;
    }
    return top.sorted();
  }

  /**
   * The exact BM25F score of one live document for weighted terms (the score `search` would give it; 0 when
   * it matches no term or is not live). Used to complete the BM25 signal of dense-only hybrid candidates.
   */
  scoreDoc(terms: readonly QueryTerm[], doc: number): number {
    if (this.live[doc] !== 1) return 0;
    const k1 = this.k1;
    let score = 0;
    for (const qt of terms) {
      const d = this.postings(qt.term);
      if (d === undefined) continue;
      const w = qt.weight * this.idf(qt.term);
      if (w <= 0) continue;
      const i = seek(d.docs, d.count, 0, doc);
      if (i >= d.count || d.docs[i] !== doc) continue;
      const t = this.tfTilde(d, i);
      score += (w * t * (k1 + 1)) / (t + k1);
    }
    return score;
  }

  /** Per-field plain BM25 of a document for terms (each field with its own length statistics). */
  fieldScores(terms: readonly QueryTerm[], text: Record<string, string>, doc: number): Record<string, number> {
    const out: Record<string, number> = {};
    const freqs = this.termFreqs(text);
    for (let f = 0; f < this.nf; f++) {
      const field = this.fields[f] as SparseField;
      const avg = this.liveCount === 0 ? 1 : (this.lenSum[f] as number) / this.liveCount || 1;
      const len = doc >= 0 ? (this.lens[doc * this.nf + f] as number) : 0;
      let s = 0;
      for (const qt of terms) {
        const tf = freqs.get(qt.term)?.[f] ?? 0;
        if (tf === 0) continue;
        s += (qt.weight * this.idf(qt.term) * tf * (this.k1 + 1)) / (tf + this.k1 * (1 - field.b + (field.b * len) / avg));
      }
      out[field.name] = s;
    }
    return out;
  }

  /** Live doc numbers containing `term` (any field). */
  docsWith(term: string): Set<number> {
    const out = new Set<number>();
    const d = this.postings(term);
    if (d === undefined) return out;
    for (let i = 0; i < d.count; i++) {
      const doc = d.docs[i] as number;
      if (this.live[doc] === 1) out.add(doc);
    }
    return out;
  }

  /** Serialisable snapshot. */
  snapshot(): SparseSnapshot {
    const terms: string[] = [];
    const offsets: number[] = [];
    const counts: number[] = [];
    const lasts: number[] = [];
    const dfs: number[] = [];
    let total = 0;
    for (const [term, p] of this.terms) {
      terms.push(term);
      offsets.push(total);
      counts.push(p.count);
      lasts.push(p.lastDoc);
      dfs.push(this.df.get(term) ?? 0);
      total += p.length;
    }
    const bytes = new Uint8Array(total);
    let i = 0;
    for (const p of this.terms.values()) {
      bytes.set(p.bytes.subarray(0, p.length), offsets[i++] as number);
    }
    return {
      terms,
      offsets,
      counts,
      lasts,
      dfs,
      bytes,
      live: this.live.slice(0, this.nextDoc),
      lens: this.lens.slice(0, this.nextDoc * this.nf),
      nextDoc: this.nextDoc,
      liveCount: this.liveCount,
      compactedDead: this.compactedDead,
      lenSum: Array.from(this.lenSum),
    };
  }

  /** Restores a snapshot into this (empty) index. */
  restore(s: SparseSnapshot): void {
    for (let i = 0; i < s.terms.length; i++) {
      const start = s.offsets[i] as number;
      const end = i + 1 < s.terms.length ? (s.offsets[i + 1] as number) : s.bytes.length;
      const p = new PostingList(1);
      p.bytes = s.bytes.slice(start, end);
      p.length = end - start;
      p.count = s.counts[i] as number;
      p.lastDoc = s.lasts[i] as number;
      this.terms.set(s.terms[i] as string, p);
      this.df.set(s.terms[i] as string, s.dfs[i] as number);
    }
    this.live = new Uint8Array(Math.max(64, s.nextDoc * 2));
    this.live.set(s.live);
    this.lens = new Float32Array(Math.max(64, s.nextDoc * 2 * this.nf));
    this.lens.set(s.lens);
    this.nextDoc = s.nextDoc;
    this.liveCount = s.liveCount;
    this.compactedDead = s.compactedDead;
    for (let f = 0; f < this.nf; f++) this.lenSum[f] = s.lenSum[f] ?? 0;
    this.version++;
  }
}

/** @internal */
export interface SparseSnapshot {
  terms: string[];
  offsets: number[];
  counts: number[];
  lasts: number[];
  dfs: number[];
  bytes: Uint8Array;
  live: Uint8Array;
  lens: Float32Array;
  nextDoc: number;
  liveCount: number;
  compactedDead: number;
  lenSum: number[];
}

function seek(docs: Int32Array, count: number, from: number, target: number): number {
  let lo = from;
  if (lo >= count || (docs[lo] as number) >= target) return lo;
  let step = 1;
  let hi = lo + 1;
  while (hi < count && (docs[hi] as number) < target) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > count) hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((docs[mid] as number) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
