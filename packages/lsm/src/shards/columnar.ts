import { LsmError } from '../errors.js';
import { hashSeriesKey, type Point, seriesKey } from '../tsdb/series.js';

const MAGIC = 0x4c53_4d32; // 'LSM2'
const HEADER = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A batch of points in columnar form: a dictionary of series keys, and per point a series index, a
 * timestamp and a value. {@link PointBatchBuilder.finish} packs it into one `ArrayBuffer`, which is what
 * goes to a shard worker (transferred, not copied) and what a log record carries.
 *
 * Layout (little endian): `u32 magic, u32 nKeys, u32 keyBytes, u32 nPoints, f64 t[n], f64 v[n], u32 idx[n],
 * u32 keyHash[nKeys], u32 keyEnd[nKeys], utf8 keys each followed by '\n'`. The per-key hash
 * (`hashSeriesKey`) and byte ranges let a router split a batch by shard without decoding any string.
 */
export interface PointColumns {
  /** Series keys, decoded. */
  keys: string[];
  idx: Uint32Array;
  t: Float64Array;
  v: Float64Array;
  length: number;
}

/** @internal The columns without decoded key strings. */
export interface PointColumnsRaw {
  idx: Uint32Array;
  t: Float64Array;
  v: Float64Array;
  length: number;
  nKeys: number;
  keyHash: Uint32Array;
  /** End (exclusive, before the '\n') of each key in `keyBytes`; key `i` starts at `keyEnd[i-1] + 1`. */
  keyEnd: Uint32Array;
  keyBytes: Uint8Array;
}

/**
 * Accumulates points into growable typed arrays, interning series keys.
 *
 * @example
 * ```ts
 * import { PointBatchBuilder, decodePointBatch } from '@dataplane/lsm';
 *
 * const b = new PointBatchBuilder();
 * b.add('cpu{host=a}', 1000, 0.5);
 * const cols = decodePointBatch(b.finish());
 * console.log(cols.length); // 1
 * ```
 * @since 0.1.0
 */
export class PointBatchBuilder {
  private keyIndex = new Map<string, number>();
  private nKeys = 0;
  private keyHash = new Uint32Array(64);
  private keyEnd = new Uint32Array(64);
  private keyBytes = new Uint8Array(4096);
  private keyLen = 0;
  private idx: Uint32Array;
  private t: Float64Array;
  private v: Float64Array;
  /** Points added so far. */
  length = 0;

  constructor(capacity = 1024) {
    this.idx = new Uint32Array(capacity);
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
  }

  private grow() {
    const cap = this.idx.length * 2;
    const idx = new Uint32Array(cap);
    idx.set(this.idx);
    const t = new Float64Array(cap);
    t.set(this.t);
    const v = new Float64Array(cap);
    v.set(this.v);
    this.idx = idx;
    this.t = t;
    this.v = v;
  }

  private reserveKey(bytes: number) {
    if (this.nKeys === this.keyHash.length) {
      const h = new Uint32Array(this.nKeys * 2);
      h.set(this.keyHash);
      this.keyHash = h;
      const e = new Uint32Array(this.nKeys * 2);
      e.set(this.keyEnd);
      this.keyEnd = e;
    }
    if (this.keyLen + bytes + 1 > this.keyBytes.length) {
      const b = new Uint8Array(Math.max(this.keyBytes.length * 2, this.keyLen + bytes + 1));
      b.set(this.keyBytes.subarray(0, this.keyLen));
      this.keyBytes = b;
    }
  }

  /** Adds one point of the series `key` (a {@link seriesKey}). */
  add(key: string, t: number, v: number): void {
    this.addIndexed(this.intern(key), t, v);
  }

  /** The index of `key` in this batch's dictionary (added if new); valid until {@link PointBatchBuilder.finish}. */
  intern(key: string): number {
    let i = this.keyIndex.get(key);
    if (i === undefined) {
      this.reserveKey(key.length * 3);
      const { written } = enc.encodeInto(key, this.keyBytes.subarray(this.keyLen));
      i = this.pushKey(hashSeriesKey(key), written);
      this.keyIndex.set(key, i);
    }
    return i;
  }

  /**
   * Appends an already-encoded key (bytes and hash from another batch) without a lookup: the caller
   * knows it is not there yet, or accepts a duplicate entry, which decodes to the same series.
   */
  appendKeyBytes(bytes: Uint8Array, hash: number): number {
    this.reserveKey(bytes.length);
    this.keyBytes.set(bytes, this.keyLen);
    return this.pushKey(hash, bytes.length);
  }

  private pushKey(hash: number, written: number): number {
    this.keyLen += written;
    this.keyHash[this.nKeys] = hash;
    this.keyEnd[this.nKeys] = this.keyLen;
    this.keyBytes[this.keyLen++] = 10; // '\n'
    return this.nKeys++;
  }

  /** Adds one point of the series at dictionary index `i` (from {@link PointBatchBuilder.intern}). */
  addIndexed(i: number, t: number, v: number): void {
    if (this.length === this.idx.length) this.grow();
    this.idx[this.length] = i;
    this.t[this.length] = t;
    this.v[this.length] = v;
    this.length++;
  }

  /** Packs the points into one buffer and resets the builder. */
  finish(): ArrayBuffer {
    const n = this.length;
    const k = this.nKeys;
    const size = HEADER + n * 20 + k * 8 + this.keyLen;
    const buf = new ArrayBuffer(size);
    const dv = new DataView(buf);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, k, true);
    dv.setUint32(8, this.keyLen, true);
    dv.setUint32(12, n, true);
    new Float64Array(buf, HEADER, n).set(this.t.subarray(0, n));
    new Float64Array(buf, HEADER + 8 * n, n).set(this.v.subarray(0, n));
    new Uint32Array(buf, HEADER + 16 * n, n).set(this.idx.subarray(0, n));
    new Uint32Array(buf, HEADER + 20 * n, k).set(this.keyHash.subarray(0, k));
    new Uint32Array(buf, HEADER + 20 * n + 4 * k, k).set(this.keyEnd.subarray(0, k));
    new Uint8Array(buf, HEADER + 20 * n + 8 * k).set(this.keyBytes.subarray(0, this.keyLen));
    if (this.keyIndex.size > 0) this.keyIndex.clear();
    this.nKeys = 0;
    this.keyLen = 0;
    this.length = 0;
    return buf;
  }
}

/** @internal Reads a packed batch without decoding key strings (views, no copy when aligned). */
export function decodePointBatchRaw(data: ArrayBuffer | Uint8Array): PointColumnsRaw {
  let buf: ArrayBuffer;
  let off = 0;
  if (data instanceof Uint8Array) {
    if (data.byteOffset % 8 === 0 && data.buffer instanceof ArrayBuffer) {
      buf = data.buffer;
      off = data.byteOffset;
    } else {
      buf = new Uint8Array(data).buffer; // a copy (Buffer#slice would be a view)
    }
  } else if (data instanceof ArrayBuffer) {
    buf = data;
  } else {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'a point batch must be an ArrayBuffer or a Uint8Array');
  }
  const total = data.byteLength;
  const bad = (why: string) => new LsmError('LSM_INVALID_ARGUMENT', `malformed point batch: ${why}`);
  if (total < HEADER) throw bad('too short');
  const dv = new DataView(buf, off, total);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('bad magic');
  const nKeys = dv.getUint32(4, true);
  const keyLen = dv.getUint32(8, true);
  const n = dv.getUint32(12, true);
  if (HEADER + n * 20 + nKeys * 8 + keyLen !== total) throw bad('length mismatch');
  const idx = new Uint32Array(buf, off + HEADER + 16 * n, n);
  for (let i = 0; i < n; i++) if (idx[i]! >= nKeys) throw bad('series index out of range');
  const keyEnd = new Uint32Array(buf, off + HEADER + 20 * n + 4 * nKeys, nKeys);
  const keyBytes = new Uint8Array(buf, off + HEADER + 20 * n + 8 * nKeys, keyLen);
  let start = 0;
  for (let i = 0; i < nKeys; i++) {
    const e = keyEnd[i]!;
    if (e < start || e >= keyLen || keyBytes[e] !== 10) throw bad('key table out of range');
    start = e + 1;
  }
  if (start !== keyLen) throw bad('key bytes mismatch');
  return {
    idx,
    t: new Float64Array(buf, off + HEADER, n),
    v: new Float64Array(buf, off + HEADER + 8 * n, n),
    length: n,
    nKeys,
    keyHash: new Uint32Array(buf, off + HEADER + 20 * n, nKeys),
    keyEnd,
    keyBytes,
  };
}

/** @internal Decodes the key strings of raw columns. */
export function decodeKeys(raw: PointColumnsRaw): string[] {
  if (raw.nKeys === 0) return [];
  const keys = dec.decode(raw.keyBytes.subarray(0, raw.keyBytes.length - 1)).split('\n');
  if (keys.length !== raw.nKeys) throw new LsmError('LSM_INVALID_ARGUMENT', 'malformed point batch: key count mismatch');
  return keys;
}

/**
 * Reads a buffer made by {@link PointBatchBuilder.finish} or {@link encodePoints} (views, no copy of the
 * columns when the bytes are 8-aligned).
 *
 * @param data - the packed batch.
 * @returns the columns.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when the data is not a well-formed batch.
 * @example
 * ```ts
 * import { encodePoints, decodePointBatch } from '@dataplane/lsm';
 *
 * decodePointBatch(encodePoints([{ metric: 'cpu', t: 1, v: 2 }])).keys; // ['cpu{}']
 * ```
 * @since 0.1.0
 */
export function decodePointBatch(data: ArrayBuffer | Uint8Array): PointColumns {
  const raw = decodePointBatchRaw(data);
  return { keys: decodeKeys(raw), idx: raw.idx, t: raw.t, v: raw.v, length: raw.length };
}

/**
 * Packs points into one columnar record (for a log record or a shard message).
 *
 * @param points - the points.
 * @returns the packed bytes.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for an invalid metric, tag, timestamp or value.
 * @example
 * ```ts
 * import { encodePoints } from '@dataplane/lsm';
 *
 * const bytes = encodePoints([{ metric: 'cpu', tags: { host: 'a' }, t: Date.now(), v: 0.5 }]);
 * ```
 * @since 0.1.0
 */
export function encodePoints(points: readonly Point[]): Uint8Array {
  if (!Array.isArray(points)) throw new LsmError('LSM_INVALID_ARGUMENT', 'points must be an array');
  const b = new PointBatchBuilder(Math.max(1, points.length));
  for (const p of points) {
    checkPoint(p);
    b.add(seriesKey(p.metric, p.tags), p.t, p.v);
  }
  return new Uint8Array(b.finish());
}

/** @internal Validates one point's timestamp and value. */
export function checkPoint(p: Point): void {
  if (p == null || typeof p !== 'object') throw new LsmError('LSM_INVALID_ARGUMENT', 'a point must be an object');
  if (!Number.isFinite(p.t)) throw new LsmError('LSM_INVALID_ARGUMENT', `point timestamp must be a finite number, got ${String(p.t)}`);
  if (typeof p.v !== 'number') throw new LsmError('LSM_INVALID_ARGUMENT', `point value must be a number, got ${typeof p.v}`);
}
