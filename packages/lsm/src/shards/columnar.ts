import { LsmError } from '../errors.js';
import { type Point, seriesKey } from './series-key.js';

const MAGIC = 0x4c53_4d43; // 'LSMC'
const HEADER = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A batch of points in columnar form: a dictionary of series keys, and per point a series index, a
 * timestamp and a value. {@link PointBatchBuilder.finish} packs it into one `ArrayBuffer`, which is what
 * goes to a shard worker (transferred, not copied) and what a log record carries.
 *
 * Layout (little endian): `u32 magic, u32 nKeys, u32 keyBytes, u32 nPoints, f64 t[n], f64 v[n], u32 idx[n],
 * utf8 keys joined by '\n'`.
 */
export interface PointColumns {
  keys: string[];
  idx: Uint32Array;
  t: Float64Array;
  v: Float64Array;
  length: number;
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
  private keys: string[] = [];
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

  /** Adds one point of the series `key` (a {@link seriesKey}). */
  add(key: string, t: number, v: number): void {
    this.addIndexed(this.intern(key), t, v);
  }

  /** The index of `key` in this batch's dictionary (added if new); valid until {@link PointBatchBuilder.finish}. */
  intern(key: string): number {
    let i = this.keyIndex.get(key);
    if (i === undefined) {
      i = this.keys.length;
      this.keys.push(key);
      this.keyIndex.set(key, i);
    }
    return i;
  }

  /**
   * Appends `key` to the dictionary without looking it up (the caller knows it is not there yet, or accepts
   * a duplicate entry, which decodes to the same series) and returns its index.
   */
  appendKey(key: string): number {
    this.keys.push(key);
    return this.keys.length - 1;
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
    const keyBytes = enc.encode(this.keys.join('\n'));
    const size = HEADER + n * 20 + keyBytes.length;
    const buf = new ArrayBuffer(size);
    const dv = new DataView(buf);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, this.keys.length, true);
    dv.setUint32(8, keyBytes.length, true);
    dv.setUint32(12, n, true);
    new Float64Array(buf, HEADER, n).set(this.t.subarray(0, n));
    new Float64Array(buf, HEADER + 8 * n, n).set(this.v.subarray(0, n));
    new Uint32Array(buf, HEADER + 16 * n, n).set(this.idx.subarray(0, n));
    new Uint8Array(buf, HEADER + 20 * n).set(keyBytes);
    if (this.keyIndex.size > 0) this.keyIndex.clear();
    this.keys = [];
    this.length = 0;
    return buf;
  }
}

/**
 * Reads a buffer made by {@link PointBatchBuilder.finish} (views, no copy of the columns).
 *
 * @param data - the packed batch (an ArrayBuffer, or bytes whose offset is a multiple of 8).
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
  let buf: ArrayBuffer;
  let off = 0;
  if (data instanceof Uint8Array) {
    if (data.byteOffset % 8 === 0 && data.buffer instanceof ArrayBuffer) {
      buf = data.buffer;
      off = data.byteOffset;
    } else {
      buf = new Uint8Array(data).buffer; // a copy (Buffer#slice would be a view)
    }
  } else {
    buf = data;
  }
  const total = data.byteLength;
  const bad = (why: string) => new LsmError('LSM_INVALID_ARGUMENT', `malformed point batch: ${why}`);
  if (total < HEADER) throw bad('too short');
  const dv = new DataView(buf, off, total);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('bad magic');
  const nKeys = dv.getUint32(4, true);
  const keyBytes = dv.getUint32(8, true);
  const n = dv.getUint32(12, true);
  if (HEADER + n * 20 + keyBytes !== total) throw bad('length mismatch');
  const keys = nKeys === 0 ? [] : dec.decode(new Uint8Array(buf, off + HEADER + 20 * n, keyBytes)).split('\n');
  if (keys.length !== nKeys) throw bad('key count mismatch');
  const idx = new Uint32Array(buf, off + HEADER + 16 * n, n);
  for (let i = 0; i < n; i++) if (idx[i]! >= nKeys) throw bad('series index out of range');
  return { keys, idx, t: new Float64Array(buf, off + HEADER, n), v: new Float64Array(buf, off + HEADER + 8 * n, n), length: n };
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
