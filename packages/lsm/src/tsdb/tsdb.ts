import { LsmError } from '../errors.js';
import { openDb } from '../kv/db.js';
import type { BatchOp, Db } from '../kv/types.js';
import { bucketize, pool, sumByBucket } from './aggregate.js';
import { chunkTimeRange, decodeChunk, encodeChunkUnchecked } from './chunk.js';
import { MAX_TIMESTAMP } from './gorilla.js';
import { Head, sortDedup } from './head.js';
import {
  K_CHUNK,
  K_HEADLOG,
  K_INTERNAL,
  K_POSTING,
  K_SERIES,
  K_USER,
  chunkKey,
  chunkKeyId,
  chunkKeyInto,
  chunkKeySeq,
  chunkKeyStart,
  headLogKey,
  idBytes,
  metricPrefix,
  postingKey,
  prefixEnd,
  seriesKeyBytes,
  taggedKey,
} from './keys.js';
import { ChunkIndex } from './chunk-index.js';
import { checkMatcher, evalMatcher, type Postings } from './matchers.js';
import {
  BucketAccumulator,
  Collector,
  MAX_BUCKETS,
  STREAMING_AGGS,
  scratch,
  checkValueFilter,
  chunkPart,
  chunkPointCount,
  filterSink,
  filteredPoints,
  mergeParts,
  pointsPart,
  scanSeries,
  type PointSink,
  type ScanPart,
} from './query-scan.js';
import { canonicalSeriesKey, probeId, type SeriesInfo } from './series.js';
import { timeWindowCompaction } from './time-window-compaction.js';
import type {
  ColumnarBatch,
  LastPoint,
  SeriesRef,
  SeriesSelector,
  Tags,
  TsdbAggregation,
  TsdbOptions,
  TsdbPoint,
  TsdbQuery,
  TsdbSeries,
  TsdbStats,
  TsdbWriteOptions,
} from './types.js';
import { xxhash64 } from './xxhash64.js';

const dec = new TextDecoder();
const SEQ_KEY = taggedKey(K_INTERNAL, 'chunk-seq');
const AGGS = new Set(['count', 'sum', 'min', 'max', 'avg', 'last', 'rate', 'p50', 'p90', 'p99']);
const HOUR = 3_600_000;

interface MetricIndex {
  org: string;
  metric: string;
  prefix: Uint8Array;
  all: Set<number>;
  postings: Postings;
}


/** A sink that drops points (the counting sink's target between scans). */
const noSink: PointSink = () => {};
/** A write batch with its series resolved: point i is in slot `slots[index[i]]` (`slots[i]` without index). */
interface Resolved {
  slots: Uint32Array;
  index: Uint32Array | undefined;
  ts: Float64Array;
  vs: Float64Array;
}

/** Orders batch ops by key bytes (every key the flush writes is bytes). */
function byKey(a: BatchOp, b: BatchOp): number {
  return Buffer.compare(a.key as Uint8Array, b.key as Uint8Array);
}

/** What a SeriesRef object resolved to, and the org, metric and tags (own keys in order) it had then. */
interface CachedRef {
  slot: number;
  org: string;
  metric: string;
  names: string[];
  values: unknown[];
}

function refSnapshot(s: SeriesRef, slot: number): CachedRef {
  const names = s.tags === undefined ? [] : Object.keys(s.tags);
  return { slot, org: s.org ?? '', metric: s.metric, names, values: names.map((k) => s.tags![k]) };
}

/** True when `s` still has exactly the org, metric and tags of the snapshot (then its key is unchanged). */
function sameRef(c: CachedRef, s: SeriesRef): boolean {
  if (c.metric !== s.metric || c.org !== (s.org ?? '')) return false;
  const t = s.tags;
  if (t === undefined) return c.names.length === 0;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return false;
  const names = Object.keys(t);
  if (names.length !== c.names.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== c.names[i] || t[names[i]!] !== c.values[i]) return false;
  return true;
}

interface Part {
  order: number;
  ts: Float64Array;
  vs: Float64Array;
}

function checkTs(t: number): void {
  // Math.floor(t) !== t catches fractions, NaN and non-numbers; the bounds catch infinities
  if (typeof t !== 'number' || Math.floor(t) !== t || t > MAX_TIMESTAMP || t < -MAX_TIMESTAMP) throw new LsmError('LSM_INVALID_ARGUMENT', `timestamp ${t} must be an integer within ±${MAX_TIMESTAMP}`);
}

function checkValue(v: unknown): void {
  if (typeof v !== 'number') throw new LsmError('LSM_INVALID_ARGUMENT', `value must be a number, got ${typeof v}`);
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LsmError('LSM_ABORTED', 'operation aborted', { cause: signal.reason });
}

const hex = (id: bigint): string => id.toString(16).padStart(16, '0');

/**
 * A time-series database on the LSM engine: Gorilla chunks keyed (org, metric, series id, chunk start),
 * a tag index of postings lists in the same engine, time-window compaction and retention by dropping
 * whole tables. Obtain one with {@link openTsdb}.
 *
 * @remarks
 * Duplicate timestamps in one series: the value written last wins (within a write, the later point of
 * the batch). Out-of-order points are accepted at any time and land in their own chunk of their window;
 * queries merge chunks, so every read sees points sorted by time with duplicates resolved.
 *
 * @since 0.1.0
 */
export class Tsdb {
  private readonly series: SeriesInfo[] = [];
  private readonly byKey = new Map<string, number>();
  /** Resolution of SeriesRef objects seen in columnar batches (checked against their content on every use). */
  private readonly refCache = new WeakMap<object, CachedRef>();
  private readonly byId = new Map<bigint, number>();
  private readonly metrics = new Map<string, MetricIndex>();
  private readonly head = new Head();
  /** Where each series' stored chunks are (query side; the flush adds what it writes). */
  private readonly chunkIndex = new ChunkIndex(() => (Number.isFinite(this.o.retentionMs) ? this.o.clock() - this.o.retentionMs : -Infinity));
  /** Last point per slot (NaN time = not known yet: computed from storage on first use). */
  private lastT = new Float64Array(1024).fill(NaN);
  private lastV = new Float64Array(1024);
  private headLogKeys: Uint8Array[] = [];
  private headSeq = 0;
  private chunkSeq = 1;
  private pendingIndex: BatchOp[] = [];
  private readonly pendingMeta = new Map<string, Uint8Array>();
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly s = { pointsWritten: 0, flushes: 0, chunksWritten: 0, chunkBytesWritten: 0, chunksRead: 0, seriesCollisions: 0 };

  /** @internal Use {@link openTsdb}. */
  constructor(
    private readonly db: Db,
    private readonly o: Required<Pick<TsdbOptions, 'chunkWindowMs' | 'headMaxPoints' | 'retentionMs' | 'decimalCodec'>> & {
      headLog: boolean;
      hash: (k: string) => bigint;
      clock: () => number;
    },
  ) {}

  /** @internal Loads series, postings, counters and the head log. */
  async load(signal: AbortSignal | undefined): Promise<void> {
    for await (const [k, v] of this.db.iterator({ gte: new Uint8Array([K_SERIES]), lt: new Uint8Array([K_SERIES + 1]), signal })) {
      const j = JSON.parse(dec.decode(v)) as { org: string; metric: string; tags: Record<string, string> };
      const id = new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(1);
      this.addSeries(id, j.org, j.metric, j.tags, canonicalSeriesKey(j.org, j.metric, j.tags));
    }
    for await (const [k] of this.db.iterator({ gte: new Uint8Array([K_POSTING]), lt: new Uint8Array([K_POSTING + 1]), signal })) {
      const id = new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(k.length - 8);
      const parts = dec.decode(k.subarray(1, k.length - 9)).split('\u0000');
      const slot = this.byId.get(id);
      if (slot === undefined || parts.length !== 4) throw new LsmError('LSM_CORRUPT_BLOCK', 'posting for an unknown series');
      this.post(this.metricIndex(parts[0]!, parts[1]!), parts[2]!, parts[3]!, slot);
    }
    const seq = await this.db.get(SEQ_KEY);
    if (seq !== undefined) this.chunkSeq = Number(dec.decode(seq));
    for await (const [k, v] of this.db.iterator({ gte: new Uint8Array([K_HEADLOG]), lt: new Uint8Array([K_HEADLOG + 1]), signal })) {
      const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const n = dv.getUint32(0, true);
      for (let i = 0; i < n; i++) {
        const at = 4 + i * 24;
        const slot = this.byId.get(dv.getBigUint64(at));
        if (slot === undefined) throw new LsmError('LSM_CORRUPT_WAL', 'head log names an unknown series');
        this.head.append(slot, dv.getFloat64(at + 8, true), dv.getFloat64(at + 16, true));
      }
      this.headLogKeys.push(k.slice());
      this.headSeq = new DataView(k.buffer, k.byteOffset, k.byteLength).getUint32(5) + 1;
    }
  }

  private metricIndex(org: string, metric: string): MetricIndex {
    const mk = `${org}\u0000${metric}`;
    let m = this.metrics.get(mk);
    if (!m) {
      m = { org, metric, prefix: metricPrefix(K_CHUNK, org, metric), all: new Set(), postings: new Map() };
      this.metrics.set(mk, m);
    }
    return m;
  }

  private post(m: MetricIndex, k: string, v: string, slot: number): void {
    let vals = m.postings.get(k);
    if (!vals) m.postings.set(k, (vals = new Map()));
    let set = vals.get(v);
    if (!set) vals.set(v, (set = new Set()));
    set.add(slot);
  }

  private addSeries(id: bigint, org: string, metric: string, tags: Record<string, string>, canonical: string): SeriesInfo {
    const info: SeriesInfo = { slot: this.series.length, id, idBytes: idBytes(id), org, metric, tags, canonical };
    if (info.slot >= this.lastT.length) {
      const t = new Float64Array(this.lastT.length * 2).fill(NaN);
      t.set(this.lastT);
      const v = new Float64Array(this.lastV.length * 2);
      v.set(this.lastV);
      this.lastT = t;
      this.lastV = v;
    }
    this.series.push(info);
    this.byKey.set(canonical, info.slot);
    this.byId.set(id, info.slot);
    this.metricIndex(org, metric).all.add(info.slot);
    return info;
  }

  private resolve(org: string, metric: string, tags: Tags | undefined, canonical: string): number {
    const known = this.byKey.get(canonical);
    if (known !== undefined) return known;
    const h = this.o.hash(canonical);
    let id = h;
    for (let n = 1; this.byId.has(id); n++) {
      this.s.seriesCollisions++;
      id = probeId(h, n);
    }
    const t: Record<string, string> = {};
    for (const k of Object.keys(tags ?? {}).sort()) t[k] = tags![k]!;
    const info = this.addSeries(id, org, metric, t, canonical);
    this.lastT[info.slot] = -Infinity; // a new series: every point of it passes through write()
    const m = this.metricIndex(org, metric);
    this.pendingIndex.push({ type: 'put', key: seriesKeyBytes(info.idBytes), value: JSON.stringify({ org, metric, tags: t }) });
    for (const [k, v] of Object.entries(t)) {
      this.post(m, k, v, info.slot);
      this.pendingIndex.push({ type: 'put', key: postingKey(org, metric, k, v, info.idBytes), value: new Uint8Array(0) });
    }
    return info.slot;
  }

  private ensureOpen(): void {
    if (this.closed) throw new LsmError('LSM_CLOSED', 'the tsdb is closed');
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn);
    this.lock = p.catch(() => undefined);
    return p;
  }

  /**
   * Writes points, in object form or as a {@link ColumnarBatch}. The batch is validated as a whole
   * before anything is applied; it is visible to queries when the promise resolves and durable then too
   * (head log in the engine's WAL), or at the next flush with `wal: false`.
   *
   * @param points - points or a columnar batch.
   * @param opts - `meta` keys to store atomically with the points; `signal`.
   * @returns when applied.
   * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad point (the whole batch is rejected), `LSM_CLOSED`, `LSM_ABORTED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * await db.write([{ metric: 'cpu', tags: { host: 'a' }, ts: Date.now(), value: 0.5 }]);
   * // the fast path: columnar, with the same series objects reused batch after batch
   * const series = [{ metric: 'cpu', tags: { host: 'a' } }];
   * await db.write({ series, seriesIndex: Uint32Array.of(0, 0), ts: Float64Array.of(1000, 2000), values: Float64Array.of(1, 2) });
   * ```
   * @since 0.1.0
   */
  write(points: readonly TsdbPoint[] | ColumnarBatch, opts: TsdbWriteOptions = {}): Promise<void> {
    try {
      this.ensureOpen();
      aborted(opts.signal);
      if (opts.meta !== undefined && !Array.isArray(opts.meta)) throw new LsmError('LSM_INVALID_ARGUMENT', 'meta must be an array of [key, value]');
      for (const e of opts.meta ?? []) {
        if (!Array.isArray(e) || typeof e[0] !== 'string' || (typeof e[1] !== 'string' && !(e[1] instanceof Uint8Array))) {
          throw new LsmError('LSM_INVALID_ARGUMENT', 'meta entries must be [string, string | Uint8Array]');
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(async () => {
      this.ensureOpen();
      aborted(opts.signal);
      const b = Array.isArray(points) ? this.writeObjects(points as readonly TsdbPoint[]) : this.writeColumnar(points as ColumnarBatch);
      const { slots, index, ts, vs } = b;
      const n = ts.length;
      this.head.appendBatch(slots, index, ts, vs, n, this.lastT, this.lastV);
      this.s.pointsWritten += n;
      const meta: BatchOp[] = (opts.meta ?? []).map(([k, v]) => ({ type: 'put', key: taggedKey(K_USER, k), value: v }));
      if (this.o.headLog) {
        const rec = this.headLogRecord(b);
        const key = headLogKey(this.headSeq++);
        this.headLogKeys.push(key);
        const ops = this.pendingIndex;
        this.pendingIndex = [];
        ops.push({ type: 'put', key, value: rec }, ...meta);
        await this.db.write(ops);
      } else {
        for (const op of meta) if (op.type === 'put') this.pendingMeta.set(dec.decode((op.key as Uint8Array).subarray(1)), typeof op.value === 'string' ? new TextEncoder().encode(op.value) : op.value);
      }
      if (this.head.points >= this.o.headMaxPoints) await this.flushLocked();
    });
  }

  /** Head log record: count u32 LE, then per point series id u64 BE, ts f64 LE, value f64 LE. */
  private headLogRecord({ slots, index, ts, vs }: Resolved): Uint8Array {
    const n = ts.length;
    const hi = new Uint32Array(slots.length);
    const lo = new Uint32Array(slots.length);
    for (let j = 0; j < slots.length; j++) {
      const id = this.series[slots[j]!]!.idBytes;
      hi[j] = ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0;
      lo[j] = ((id[4]! << 24) | (id[5]! << 16) | (id[6]! << 8) | id[7]!) >>> 0;
    }
    const rec = new Uint8Array(4 + n * 24);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, n, true);
    for (let i = 0; i < n; i++) {
      const at = 4 + i * 24;
      const j = index === undefined ? i : index[i]!;
      dv.setUint32(at, hi[j]!);
      dv.setUint32(at + 4, lo[j]!);
      dv.setFloat64(at + 8, ts[i]!, true);
      dv.setFloat64(at + 16, vs[i]!, true);
    }
    return rec;
  }

  private writeObjects(points: readonly TsdbPoint[]): Resolved {
    const n = points.length;
    const keys: string[] = new Array<string>(n);
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = points[i];
      if (typeof p !== 'object' || p === null) throw new LsmError('LSM_INVALID_ARGUMENT', `point ${i} must be an object`);
      checkTs(p.ts);
      checkValue(p.value);
      keys[i] = canonicalSeriesKey(p.org ?? '', p.metric, p.tags);
      ts[i] = p.ts;
      vs[i] = p.value;
    }
    const slots = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const p = points[i]!;
      slots[i] = this.resolve(p.org ?? '', p.metric, p.tags, keys[i]!);
    }
    return { slots, index: undefined, ts, vs };
  }

  private writeColumnar(b: ColumnarBatch): Resolved {
    if (typeof b !== 'object' || b === null || !Array.isArray(b.series) || !(b.seriesIndex instanceof Uint32Array) || !(b.ts instanceof Float64Array) || !(b.values instanceof Float64Array)) {
      throw new LsmError('LSM_INVALID_ARGUMENT', 'a columnar batch needs series[], seriesIndex: Uint32Array, ts and values: Float64Array');
    }
    const n = b.seriesIndex.length;
    if (b.ts.length !== n || b.values.length !== n) throw new LsmError('LSM_INVALID_ARGUMENT', 'seriesIndex, ts and values must have the same length');
    // Each series of the batch is resolved once: from the per-SeriesRef cache when its org, metric and
    // tags still equal what was resolved before (any change misses), else canonicalised and validated.
    const m = b.series.length;
    const map = new Uint32Array(m);
    const keys: (string | undefined)[] = new Array<string | undefined>(m);
    for (let j = 0; j < m; j++) {
      const s = b.series[j];
      if (typeof s !== 'object' || s === null) throw new LsmError('LSM_INVALID_ARGUMENT', `series[${j}] must be an object`);
      const c = this.refCache.get(s);
      if (c !== undefined && sameRef(c, s)) map[j] = c.slot;
      else keys[j] = canonicalSeriesKey(s.org ?? '', s.metric, s.tags);
    }
    const idx = b.seriesIndex;
    const ts = b.ts;
    for (let i = 0; i < n; i++) {
      if (idx[i]! >= m) throw new LsmError('LSM_INVALID_ARGUMENT', `seriesIndex[${i}] is out of range`);
      checkTs(ts[i]!);
    }
    for (let j = 0; j < m; j++) {
      const key = keys[j];
      if (key === undefined) continue;
      const s = b.series[j]!;
      map[j] = this.resolve(s.org ?? '', s.metric, s.tags, key);
      this.refCache.set(s, refSnapshot(s, map[j]!));
    }
    return { slots: map, index: b.seriesIndex, ts: b.ts, vs: b.values };
  }

  /**
   * Cuts the head into chunks (one per series per time window), writes them with the new index entries
   * and pending metadata in one engine batch, and makes them durable.
   *
   * @param opts - `signal` aborts before the flush starts.
   * @returns when durable.
   * @throws LsmError `LSM_CLOSED`, `LSM_ABORTED`, `LSM_IO`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data', { wal: false });
   * await db.write([{ metric: 'm', ts: 0, value: 1 }], { meta: [['offset', '42']] });
   * await db.flush();
   * ```
   * @since 0.1.0
   */
  flush(opts: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    return this.serial(async () => {
      this.ensureOpen();
      aborted(opts.signal);
      await this.flushLocked();
    });
  }

  private async flushLocked(): Promise<void> {
    const W = this.o.chunkWindowMs;
    const ops: BatchOp[] = this.pendingIndex;
    this.pendingIndex = [];
    const seq = this.chunkSeq;
    // one pair of scratch arrays for every series: the head copies into them, chunks encode from them
    const cap = this.head.maxCount();
    const rawTs = new Float64Array(cap);
    const rawVs = new Float64Array(cap);
    for (const slot of this.head.active) {
      const info = this.series[slot]!;
      const got = this.head.readInto(slot, rawTs, rawVs);
      const sorted = this.head.isSorted(slot);
      const { ts, vs } = sorted ? { ts: rawTs.subarray(0, got), vs: rawVs.subarray(0, got) } : sortDedup(rawTs.subarray(0, got), rawVs.subarray(0, got));
      const prefix = this.metricIndex(info.org, info.metric).prefix;
      let i = 0;
      while (i < ts.length) {
        const w = Math.floor(ts[i]! / W) * W;
        // first point at or past the window's end (binary search: ts is sorted)
        let j = i + 1;
        for (let hi = ts.length; j < hi; ) {
          const mid = (j + hi) >>> 1;
          if (ts[mid]! < w + W) j = mid + 1;
          else hi = mid;
        }
        // timestamps were checked by write() and are sorted and unique here
        const chunk = encodeChunkUnchecked(ts.subarray(i, j), vs.subarray(i, j), j - i, this.o.decimalCodec);
        ops.push({ type: 'put', key: chunkKey(prefix, info.idBytes, w, seq), value: chunk });
        this.chunkIndex.flushed(slot, w, seq, ts[i]!, ts[j - 1]!);
        this.s.chunksWritten++;
        this.s.chunkBytesWritten += chunk.length;
        i = j;
      }
    }
    for (const [k, v] of this.pendingMeta) ops.push({ type: 'put', key: taggedKey(K_USER, k), value: v });
    for (const k of this.headLogKeys) ops.push({ type: 'del', key: k });
    ops.push({ type: 'put', key: SEQ_KEY, value: String(seq + 1) });
    // Every key of this batch is distinct, so applying them in key order changes nothing but the cost:
    // the memtable appends each key after its tail instead of searching its skiplist from the top.
    ops.sort(byKey);
    await this.db.write(ops);
    await this.db.flush();
    this.chunkSeq = seq + 1;
    this.pendingMeta.clear();
    this.headLogKeys = [];
    this.head.reset();
    this.s.flushes++;
  }

  /**
   * Reads a metadata key written with `write(points, { meta })` (the latest written, durable or not).
   *
   * @param key - metadata key.
   * @returns the value, or undefined.
   * @throws LsmError `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * await db.getMeta('offset'); // Uint8Array | undefined
   * ```
   * @since 0.1.0
   */
  async getMeta(key: string): Promise<Uint8Array | undefined> {
    this.ensureOpen();
    if (typeof key !== 'string') throw new LsmError('LSM_INVALID_ARGUMENT', 'meta key must be a string');
    return this.pendingMeta.get(key) ?? (await this.db.get(taggedKey(K_USER, key)));
  }

  private select(sel: SeriesSelector): MetricIndex | undefined {
    if (typeof sel !== 'object' || sel === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'query must be an object');
    canonicalSeriesKey(sel.org ?? '', sel.metric, undefined);
    if (sel.where !== undefined) checkMatcher(sel.where);
    return this.metrics.get(`${sel.org ?? ''}\u0000${sel.metric}`);
  }

  private slotsOf(m: MetricIndex, sel: SeriesSelector): number[] {
    const w = sel.where;
    // one `tag = value` (the common case): the postings list itself, no set algebra
    const set = w === undefined ? m.all : 'op' in w && w.op === '=' ? (m.postings.get(w.tag)?.get(w.value) ?? new Set<number>()) : evalMatcher(w, m.postings, m.all);
    const out = Array.from(set);
    // slots usually enter a set in increasing order: sort (which allocates a work copy) only when not
    let sorted = true;
    for (let i = 1; i < out.length && sorted; i++) sorted = out[i - 1]! < out[i]!;
    return sorted ? out : out.sort((a, b) => a - b);
  }

  /**
   * @internal The stored chunks (still encoded) and head points of the selected series that may hold
   * points in [from, to); decoding is left to the scan. When the chunk index is complete (or covers a
   * series for the range): one engine multi-get of exactly the chunks it lists, with the time range as
   * a pruning hint, so tables outside the range are never looked at, except for many series (more than
   * 16 and more than half the metric) whose range needs more than half of their known chunks: then one
   * engine scan of the metric with the time range (it decodes each block once). Where the index is not
   * complete: many series, one scan of the metric with the time range (which also teaches the index);
   * few series, one engine scan per series with the time range.
   */
  private async readParts(m: MetricIndex, slots: number[], from: number, to: number, signal: AbortSignal | undefined): Promise<Map<number, ScanPart[]>> {
    const W = this.o.chunkWindowMs;
    const timeRange = { min: from, max: to - 1 };
    const wFrom = Math.floor(from / W) * W;
    const wTo = Math.floor((to - 1) / W) * W;
    const index = this.chunkIndex;
    // a complete index has nothing to learn from a scan: then only chunks of the range's windows are looked at
    const learn = !index.complete(this.chunkSeq);
    const take = (slot: number, ps: ScanPart[], k: Uint8Array, v: Uint8Array): void => {
      const start = chunkKeyStart(k);
      const inWindows = start >= wFrom && start <= wTo;
      if (!inWindows && !learn) return;
      const p = chunkPart(chunkKeySeq(k), v);
      if (learn) index.add(slot, start, p.order, p.min, p.max);
      if (inWindows && p.max >= from && p.min < to) ps.push(p);
    };
    for (let attempt = 0; ; attempt++) {
      // a flush that completes while this read awaits moves head points into chunks the engine scans
      // may not see: then read again (the head and the lookups below are read in one synchronous turn)
      const flushes = this.s.flushes;
      const parts = new Map<number, ScanPart[]>();
      for (const s of slots) parts.set(s, []);
      /** Adds a part of a slot: a first part replaces the empty list by an exact-size one (a push would allocate 17 slots). */
      const add = (slot: number, p: ScanPart): void => {
        const ps = parts.get(slot)!;
        if (ps.length === 0) parts.set(slot, [p]);
        else ps.push(p);
      };
      const lookup: number[] = [];
      const complete = index.complete(this.chunkSeq);
      const pairs: number[] = [];
      let scan = false;
      if (slots.length > 16 && slots.length * 2 > m.all.size) {
        if (!complete && !slots.every((slot) => index.covers(slot, from, to))) scan = true;
        else {
          // a multi-get decodes a table block per chunk, a scan each block once: when the range needs
          // most of the series' known chunks (a long range), one scan of the metric is cheaper
          let listed = 0;
          let known = 0;
          for (const slot of slots) {
            listed += index.overlapping(slot, wFrom, wTo, from, to, pairs, 0) / 2;
            known += index.count(slot);
          }
          scan = listed * 2 > known;
        }
      }
      if (scan) {
        for await (const [k, v] of this.db.iterator({ gte: m.prefix, lt: prefixEnd(m.prefix), timeRange, signal })) {
          const slot = this.byId.get(chunkKeyId(k));
          const ps = slot === undefined ? undefined : parts.get(slot);
          if (ps !== undefined) take(slot!, ps, k, v);
        }
        for (const slot of slots) index.cover(slot, from, to);
      } else {
        for (const slot of slots) {
          if (complete || index.covers(slot, from, to)) {
            lookup.push(slot);
            continue;
          }
          const id = this.series[slot]!.idBytes;
          const ps = parts.get(slot)!;
          const it = this.db.iterator({ gte: chunkKey(m.prefix, id, wFrom, 0), lte: chunkKey(m.prefix, id, wTo, 0xffffffff), timeRange, signal });
          for await (const [k, v] of it) take(slot, ps, k, v);
          index.cover(slot, from, to);
        }
      }
      if (this.s.flushes !== flushes && attempt < 3) continue;
      aborted(signal);
      // owners: (slot, chunk start, seq) per chunk to look up; the keys are views of one buffer
      const owners: number[] = [];
      let no = 0;
      for (const slot of lookup) {
        const np = index.overlapping(slot, wFrom, wTo, from, to, pairs, 0);
        for (let i = 0; i < np; i += 2) {
          owners[no++] = slot;
          owners[no++] = pairs[i]!;
          owners[no++] = pairs[i + 1]!;
        }
      }
      const keyLen = m.prefix.length + 20;
      const keyBuf = no > 0 ? Buffer.allocUnsafeSlow((no / 3) * keyLen) : undefined;
      const keys: Uint8Array[] = new Array<Uint8Array>(no / 3);
      for (let i = 0; i < no; i += 3) {
        const off = (i / 3) * keyLen;
        chunkKeyInto(keyBuf!, off, m.prefix, this.series[owners[i]!]!.idBytes, owners[i + 1]!, owners[i + 2]!);
        keys[i / 3] = keyBuf!.subarray(off, off + keyLen);
      }
      // one multi-get at one snapshot; every listed chunk has a point in the range, so the tables
      // holding it do too, and the engine skips the tables outside the range (counted as pruned)
      const gets = keys.length > 0 ? this.db.getMany(keys, { timeRange, borrow: true }) : undefined;
      for (const slot of slots) {
        if (this.head.count(slot) === 0) continue;
        const h = this.head.read(slot);
        const d = sortDedup(h.ts, h.vs);
        if (d.ts.length > 0 && d.ts[d.ts.length - 1]! >= from && d.ts[0]! < to) add(slot, pointsPart(Infinity, d.ts, d.vs));
      }
      if (gets !== undefined) {
        const got = await gets;
        const cutoff = Number.isFinite(this.o.retentionMs) ? this.o.clock() - this.o.retentionMs : -Infinity;
        for (let i = 0; i < got.length; i++) {
          const slot = owners[i * 3]!;
          const v = got[i];
          if (v === undefined) {
            // dropped by retention (a chunk of a flush still in progress is not yet there: keep it)
            if (owners[i * 3 + 1]! + W <= cutoff) index.remove(slot, owners[i * 3 + 1]!, owners[i * 3 + 2]!);
            continue;
          }
          add(slot, chunkPart(owners[i * 3 + 2]!, v));
        }
      }
      return parts;
    }
  }

  /**
   * Runs a query: series of one metric selected by tag matchers, points in `[from, to)` (optionally
   * only those whose value passes `valueFilter`), optionally aggregated per step, grouped by tag keys
   * and cut to a top-k. Results stream as an async iterable (ordered by series id, or by group key, or
   * by rank for top-k).
   *
   * @param q - the query.
   * @returns result series.
   * @throws LsmError `LSM_INVALID_ARGUMENT` (at iteration), `LSM_CLOSED`, `LSM_ABORTED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * const q = { metric: 'cpu', where: { tag: 'host', op: '=~', value: 'web-.*' } as const, from: 0, to: Date.now(), step: 60_000, agg: 'max' as const, groupBy: ['region'] };
   * for await (const s of db.query(q)) console.log(s.tags, s.values);
   * ```
   * @since 0.1.0
   */
  query(q: TsdbQuery): AsyncIterable<TsdbSeries> {
    return { [Symbol.asyncIterator]: () => this.run(q) };
  }

  private async *run(q: TsdbQuery): AsyncGenerator<TsdbSeries> {
    this.ensureOpen();
    const m = this.select(q);
    if (!Number.isFinite(q.from) || !Number.isFinite(q.to)) throw new LsmError('LSM_INVALID_ARGUMENT', 'from and to must be finite');
    if (q.step !== undefined && !(Number.isFinite(q.step) && q.step > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'step must be > 0');
    const agg: TsdbAggregation = q.agg ?? 'avg';
    if (!AGGS.has(agg)) throw new LsmError('LSM_INVALID_ARGUMENT', `unknown aggregation ${String(agg)}`);
    if (q.groupBy !== undefined && (!Array.isArray(q.groupBy) || q.groupBy.some((g) => typeof g !== 'string'))) throw new LsmError('LSM_INVALID_ARGUMENT', 'groupBy must be an array of tag keys');
    if (q.topK !== undefined && !(Number.isInteger(q.topK.k) && q.topK.k >= 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'topK.k must be an integer >= 0');
    const vf = checkValueFilter(q.valueFilter);
    aborted(q.signal);
    if (m === undefined) return;
    const from = Number.isFinite(this.o.retentionMs) ? Math.max(q.from, this.o.clock() - this.o.retentionMs) : q.from;
    if (from >= q.to) return;
    const slots = this.slotsOf(m, q);
    const lo = Math.ceil(from);
    const hi = Math.ceil(q.to);
    const parts = await this.readParts(m, slots, lo, hi, q.signal);
    aborted(q.signal);
    const step = q.step ?? (q.groupBy !== undefined ? q.to - from : undefined);
    // An explicit step cuts buckets at multiples of step (as documented); the default one-bucket step starts at `from`.
    const origin = q.step !== undefined ? 0 : from;
    // count..last fold straight into per-bucket accumulators; rate and percentiles need the points
    const streaming = step !== undefined && STREAMING_AGGS.has(agg) && lo < hi && BucketAccumulator.buckets(origin, step, lo, hi) <= MAX_BUCKETS;
    const onDecode = (): void => void this.s.chunksRead++;
    // one counting sink (and value filter) per query, pointed at each series' sink in turn: no closure per series
    let reached = 0;
    let target: PointSink = noSink;
    const counted: PointSink = (ts, vs, a, b) => {
      reached += b - a;
      target(ts, vs, a, b);
    };
    const entry = vf ? filterSink(vf, counted) : counted;
    /** Streams one series into `sink` (through the value filter); returns how many points reached it. */
    const scan = (slot: number, sink: PointSink): number => {
      reached = 0;
      target = sink;
      try {
        scanSeries(parts.get(slot)!, lo, hi, scratch, entry, onDecode);
      } finally {
        target = noSink;
      }
      return reached;
    };
    const points = (slot: number): { ts: Float64Array; vs: Float64Array } => {
      // a value filter keeps an unknown share of the points: collect into the shared grow-only buffers, copy out exactly
      if (vf !== undefined) {
        try {
          scan(slot, filteredPoints.sink);
        } catch (err) {
          filteredPoints.take();
          throw err;
        }
        return filteredPoints.take();
      }
      let est = 0;
      for (const p of parts.get(slot)!) est += p.bytes !== undefined ? chunkPointCount(p.bytes) : p.ts!.length;
      const c = new Collector(est);
      scan(slot, c.sink);
      return c.result();
    };
    const results: TsdbSeries[] = [];
    const emit = (r: TsdbSeries): TsdbSeries | undefined => (q.topK ? (results.push(r), undefined) : r);
    if (q.groupBy === undefined) {
      for (const slot of slots) {
        const info = this.series[slot]!;
        let r: { ts: Float64Array; vs: Float64Array };
        if (streaming) {
          const acc = new BucketAccumulator(agg, origin, step, lo, hi);
          if (scan(slot, acc.sink) === 0) continue;
          r = acc.result();
        } else {
          const p = points(slot);
          if (p.ts.length === 0) continue;
          r = step === undefined ? p : bucketize(p.ts, p.vs, origin, step, agg);
        }
        if (r.ts.length === 0) continue;
        const out = emit({ org: m.org, metric: m.metric, tags: { ...info.tags }, id: hex(info.id), series: 1, ts: r.ts, values: r.vs });
        if (out) yield out;
      }
    } else {
      const groups = new Map<string, { tags: Record<string, string>; slots: number[] }>();
      for (const slot of slots) {
        if (parts.get(slot)!.length === 0) continue;
        const info = this.series[slot]!;
        // no group keys (one group of every series): no key array and string per series
        const gk = q.groupBy.length === 0 ? '[]' : JSON.stringify(q.groupBy.map((g) => info.tags[g] ?? null));
        let e = groups.get(gk);
        if (e === undefined) {
          const tags: Record<string, string> = {};
          for (const g of q.groupBy) if (info.tags[g] !== undefined) tags[g] = info.tags[g];
          groups.set(gk, (e = { tags, slots: [] }));
        }
        e.slots.push(slot);
      }
      for (const gk of [...groups.keys()].sort()) {
        const g = groups.get(gk)!;
        let r: { ts: Float64Array; vs: Float64Array };
        let series = 0;
        if (streaming) {
          const acc = new BucketAccumulator(agg, origin, step!, lo, hi);
          for (const slot of g.slots) if (scan(slot, acc.sink) > 0) series++;
          r = acc.result();
        } else {
          const ps: { ts: Float64Array; vs: Float64Array }[] = [];
          for (const slot of g.slots) {
            const p = points(slot);
            if (p.ts.length > 0) ps.push(p);
          }
          series = ps.length;
          if (series === 0) continue;
          r = agg === 'rate' ? sumByBucket(ps.map((p) => bucketize(p.ts, p.vs, origin, step!, 'rate'))) : (() => { const pl = pool(ps); return bucketize(pl.ts, pl.vs, origin, step!, agg); })();
        }
        if (series === 0 || r.ts.length === 0) continue;
        const out = emit({ org: m.org, metric: m.metric, tags: g.tags, series, ts: r.ts, values: r.vs });
        if (out) yield out;
      }
    }
    if (q.topK) {
      const by = q.topK.by ?? 'max';
      const sign = q.topK.order === 'asc' ? 1 : -1;
      const score = (v: Float64Array): number => {
        let s = by === 'max' ? -Infinity : by === 'min' ? Infinity : 0;
        for (const x of v) s = by === 'max' ? Math.max(s, x) : by === 'min' ? Math.min(s, x) : s + x;
        return by === 'avg' ? s / v.length : by === 'last' ? v[v.length - 1]! : s;
      };
      const scored = results.map((r, i) => ({ r, i, s: score(r.values) }));
      scored.sort((a, b) => sign * (a.s - b.s) || a.i - b.i);
      for (const x of scored.slice(0, q.topK.k)) yield x.r;
    }
  }

  /**
   * The latest point of each selected series (by timestamp; for a duplicate timestamp, the last write).
   *
   * @param sel - metric and matchers.
   * @returns one entry per series that has points.
   * @throws LsmError `LSM_INVALID_ARGUMENT`, `LSM_CLOSED`, `LSM_ABORTED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * for await (const p of db.lastPoint({ metric: 'cpu' })) console.log(p.tags, p.ts, p.value);
   * ```
   * @since 0.1.0
   */
  lastPoint(sel: SeriesSelector): AsyncIterable<LastPoint> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        self.ensureOpen();
        const m = self.select(sel);
        if (m === undefined) return;
        for (const slot of self.slotsOf(m, sel)) {
          aborted(sel.signal);
          const info = self.series[slot]!;
          const cutoff = Number.isFinite(self.o.retentionMs) ? self.o.clock() - self.o.retentionMs : -Infinity;
          const known = self.lastT[slot]!;
          if (!Number.isNaN(known)) {
            if (known !== -Infinity && known >= cutoff) yield { org: m.org, metric: m.metric, tags: { ...info.tags }, id: hex(info.id), ts: known, value: self.lastV[slot]! };
            continue;
          }
          const pfx = new Uint8Array(m.prefix.length + 8);
          pfx.set(m.prefix);
          pfx.set(info.idBytes, m.prefix.length);
          const ps: Part[] = [];
          const flushes = self.s.flushes;
          let win: number | undefined;
          for await (const [k, v] of self.db.iterator({ gte: pfx, lt: prefixEnd(pfx), reverse: true, signal: sel.signal })) {
            const start = chunkKeyStart(k);
            if (win !== undefined && start !== win) break;
            win = start;
            const c = decodeChunk(v);
            self.s.chunksRead++;
            ps.push({ order: chunkKeySeq(k), ts: c.ts, vs: c.vs });
          }
          if (self.head.count(slot) > 0) {
            const h = self.head.read(slot);
            ps.push({ order: Infinity, ...sortDedup(h.ts, h.vs) });
          }
          const p = mergeParts(ps);
          const n = p.ts.length;
          if (n > 0 && Number.isNaN(self.lastT[slot]!) && flushes === self.s.flushes) {
            self.lastT[slot] = p.ts[n - 1]!;
            self.lastV[slot] = p.vs[n - 1]!;
          }
          if (n > 0 && p.ts[n - 1]! >= cutoff) yield { org: m.org, metric: m.metric, tags: { ...info.tags }, id: hex(info.id), ts: p.ts[n - 1]!, value: p.vs[n - 1]! };
        }
      },
    };
  }

  /**
   * Metric names of an org.
   *
   * @param org - tenant. @defaultValue ''
   * @returns sorted metric names.
   * @throws LsmError `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * db.listMetrics(); // ['cpu', ...]
   * ```
   * @since 0.1.0
   */
  listMetrics(org = ''): string[] {
    this.ensureOpen();
    return [...this.metrics.values()].filter((m) => m.org === org && m.all.size > 0).map((m) => m.metric).sort();
  }

  /**
   * Tag keys used by a metric.
   *
   * @param metric - metric name.
   * @param org - tenant. @defaultValue ''
   * @returns sorted tag keys.
   * @throws LsmError `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * db.tagKeys('cpu'); // ['host', 'region']
   * ```
   * @since 0.1.0
   */
  tagKeys(metric: string, org = ''): string[] {
    this.ensureOpen();
    return [...(this.metrics.get(`${org}\u0000${metric}`)?.postings.keys() ?? [])].sort();
  }

  /**
   * Values of one tag key of a metric.
   *
   * @param metric - metric name.
   * @param key - tag key.
   * @param org - tenant. @defaultValue ''
   * @returns sorted values.
   * @throws LsmError `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * db.tagValues('cpu', 'region'); // ['eu-west-1', ...]
   * ```
   * @since 0.1.0
   */
  tagValues(metric: string, key: string, org = ''): string[] {
    this.ensureOpen();
    return [...(this.metrics.get(`${org}\u0000${metric}`)?.postings.get(key)?.keys() ?? [])].sort();
  }

  /**
   * Retention: drops whole engine tables whose every chunk ends before `now - retentionMs`.
   *
   * @param now - current time. @defaultValue the injected clock
   * @returns number of tables dropped.
   * @throws LsmError `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data', { retentionMs: 7 * 86_400_000 });
   * await db.applyRetention();
   * ```
   * @since 0.1.0
   */
  async applyRetention(now = this.o.clock()): Promise<number> {
    this.ensureOpen();
    if (!Number.isFinite(this.o.retentionMs)) return 0;
    return this.db.dropTablesOlderThan(now - this.o.retentionMs);
  }

  /**
   * Counters (plain, serialisable), including the engine's.
   *
   * @returns a snapshot.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * await using db = await openTsdb('./data');
   * db.stats().db.tablesPrunedByTime;
   * ```
   * @since 0.1.0
   */
  stats(): TsdbStats {
    return { closed: this.closed, series: this.series.length, headPoints: this.head.points, ...this.s, db: this.db.stats() };
  }

  /**
   * Closes the database (idempotent). The head is not flushed: with the head log it is replayed on open;
   * with `wal: false` call {@link Tsdb.flush} first.
   *
   * @returns when closed.
   * @example
   * ```ts
   * import { openTsdb } from '@dataplane/lsm';
   *
   * const db = await openTsdb('./data');
   * await db.close();
   * ```
   * @since 0.1.0
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock;
    this.closed = true;
    await this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Opens (or creates) a time-series database in `dir`.
 *
 * @param dir - directory (created if missing).
 * @param opts - see {@link TsdbOptions}.
 * @returns the open {@link Tsdb}.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for bad options, `LSM_LOCKED` when another process holds it, `LSM_CORRUPT_*`, `LSM_ABORTED`.
 * @example
 * ```ts
 * import { openTsdb } from '@dataplane/lsm';
 *
 * await using db = await openTsdb('./metrics', { retentionMs: 30 * 86_400_000 });
 * await db.write([{ metric: 'cpu', tags: { host: 'a' }, ts: 1_700_000_000_000, value: 12 }]);
 * for await (const s of db.query({ metric: 'cpu', from: 0, to: Date.now() })) console.log(s.values);
 * ```
 * @since 0.1.0
 */
export async function openTsdb(dir: string, opts: TsdbOptions = {}): Promise<Tsdb> {
  if (typeof opts !== 'object' || opts === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'options must be an object');
  const chunkWindowMs = opts.chunkWindowMs ?? 2 * HOUR;
  const partitionMs = opts.partitionMs ?? 24 * HOUR;
  const headMaxPoints = opts.headMaxPoints ?? 1_000_000;
  const retentionMs = opts.retentionMs ?? Infinity;
  if (!(Number.isInteger(chunkWindowMs) && chunkWindowMs > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'chunkWindowMs must be a positive integer');
  if (!(Number.isInteger(partitionMs) && partitionMs > 0 && partitionMs % chunkWindowMs === 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'partitionMs must be a positive multiple of chunkWindowMs');
  if (!(Number.isInteger(headMaxPoints) && headMaxPoints > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'headMaxPoints must be a positive integer');
  if (!(retentionMs > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'retentionMs must be > 0');
  const clock = opts.clock ?? Date.now;
  const db = await openDb(dir, {
    wal: opts.wal,
    memtableBytes: opts.memtableBytes ?? 16 * 1024 * 1024,
    compaction: opts.compaction ?? timeWindowCompaction({ windowMs: partitionMs }),
    timeRange: (k, v) => (k[0] === K_CHUNK ? chunkTimeRange(v) : k[0] === K_HEADLOG ? undefined : [MAX_TIMESTAMP, MAX_TIMESTAMP]),
    clock,
    signal: opts.signal,
  });
  const t = new Tsdb(db, {
    chunkWindowMs,
    headMaxPoints,
    retentionMs,
    decimalCodec: opts.decimalCodec ?? true,
    headLog: opts.wal !== false,
    hash: opts.hash ?? ((k) => xxhash64(k)),
    clock,
  });
  try {
    await t.load(opts.signal);
  } catch (err) {
    await db.close();
    throw err;
  }
  return t;
}
