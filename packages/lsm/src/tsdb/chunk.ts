import { LsmError } from '../errors.js';
import { BitReader, BitWriter } from './bit-stream.js';
import { decimalDecode, decimalScale, packedDecode, packedEncode, scaledScratch } from './decimal-codec.js';
import { gorillaDecode, gorillaEncode, MAX_TIMESTAMP } from './gorilla.js';

/** Codec ids stored in the first byte of a chunk. */
export const CODEC_GORILLA = 1;
/** Legacy decimal codec (deflated varints): decoded, no longer written. */
export const CODEC_DECIMAL = 2;
/** Packed decimal codec (frame-of-reference bit packing), see `packedEncode`: decoded, no longer written. */
export const CODEC_PACKED = 3;
/** Packed decimal codec whose value frames also store their delta sum (skipped in O(1) by a bounded decode). */
export const CODEC_PACKED_SUM = 4;
/** Bytes before the payload: codec u8, count u32, min time f64, max time f64. */
export const CHUNK_HEADER = 21;
/** Most points one chunk may hold. */
export const MAX_CHUNK_POINTS = 1 << 24;

/** Reused by every {@link encodeChunk} call (encoding is synchronous). */
const packedWriter = new BitWriter(4096);
const gorillaWriter = new BitWriter(4096);

/** Options of {@link encodeChunk}. */
export interface ChunkEncodeOptions {
  /** Use the packed decimal codec when every value is a decimal with at most 6 digits. @defaultValue true */
  decimal?: boolean | undefined;
}

/**
 * Encodes `n` points sorted by time (strictly increasing timestamps) as one chunk: the packed decimal
 * codec when every value is k / 10^s (s <= 6, |k| < 2^50: integers, cents, ...), else Gorilla. The
 * packed codec stores timestamps as delta-of-delta and scaled value deltas bit-packed in frames of 128
 * points, each value frame with the sum of its deltas (a read starting mid-chunk skips whole frames);
 * when that takes more than 16 bits a point, Gorilla is tried too and the smaller one kept.
 *
 * @param ts - timestamps (integers, |t| <= MAX_TIMESTAMP, strictly increasing).
 * @param vs - values (any float64, including NaN, infinities and -0).
 * @param n - number of points (>= 1).
 * @param opts - codec choice.
 * @returns the chunk bytes.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for an empty chunk, a bad or unsorted timestamp.
 * @example
 * ```ts
 * import { encodeChunk, decodeChunk } from '@dataplane/lsm';
 *
 * const c = encodeChunk(Float64Array.of(0, 10_000), Float64Array.of(1.5, 1.5), 2);
 * decodeChunk(c).vs; // Float64Array [1.5, 1.5]
 * ```
 * @since 0.1.0
 */
export function encodeChunk(ts: Float64Array, vs: Float64Array, n: number, opts: ChunkEncodeOptions = {}): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > ts.length || n > vs.length || n > MAX_CHUNK_POINTS) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `chunk needs 1..${Math.min(ts.length, vs.length)} points, got ${n}`);
  }
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    // Math.floor(t) !== t catches fractions and NaN; the bound catches infinities
    if (Math.floor(t) !== t || t > MAX_TIMESTAMP || t < -MAX_TIMESTAMP) throw new LsmError('LSM_INVALID_ARGUMENT', `timestamp ${t} is not an integer within ±${MAX_TIMESTAMP}`);
    if (i > 0 && t <= ts[i - 1]!) throw new LsmError('LSM_INVALID_ARGUMENT', 'chunk timestamps must be strictly increasing');
  }
  return encodeChunkUnchecked(ts, vs, n, opts.decimal !== false);
}

/**
 * @internal {@link encodeChunk} without its checks: `1 <= n <= MAX_CHUNK_POINTS` and `ts[0..n)` strictly
 * increasing integers within ±MAX_TIMESTAMP are the caller's promise (the head flush, whose points were
 * validated when written and sorted since). `packed` is the packed codec to write (CODEC_PACKED only in
 * tests, for chunks as earlier versions wrote them).
 */
export function encodeChunkUnchecked(ts: Float64Array, vs: Float64Array, n: number, decimal: boolean, packed: typeof CODEC_PACKED | typeof CODEC_PACKED_SUM = CODEC_PACKED_SUM): Uint8Array {
  let codec = CODEC_GORILLA;
  let payload = gorillaWriter;
  const ks = scaledScratch(n);
  const scale = decimal ? decimalScale(vs, n, ks) : -1;
  packedWriter.reset();
  if (scale >= 0 && packedEncode(ts, ks, n, scale, packedWriter, packed === CODEC_PACKED_SUM)) {
    codec = packed;
    payload = packedWriter;
  }
  if (codec === CODEC_GORILLA || packedWriter.bits > 16 * n) {
    gorillaWriter.reset();
    gorillaEncode(ts, vs, n, gorillaWriter);
    if (codec === CODEC_GORILLA || gorillaWriter.bits < packedWriter.bits) {
      codec = CODEC_GORILLA;
      payload = gorillaWriter;
    }
  }
  const out = new Uint8Array(CHUNK_HEADER + payload.byteLength);
  const dv = new DataView(out.buffer);
  out[0] = codec;
  dv.setUint32(1, n, true);
  dv.setFloat64(5, ts[0]!, true);
  dv.setFloat64(13, ts[n - 1]!, true);
  payload.flushTo(out, CHUNK_HEADER);
  return out;
}

/** Decoded points of a chunk. @since 0.1.0 */
export interface DecodedChunk {
  ts: Float64Array;
  vs: Float64Array;
}

function header(c: Uint8Array): { codec: number; n: number; min: number; max: number } {
  if (c.length < CHUNK_HEADER) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk shorter than its header');
  const dv = new DataView(c.buffer, c.byteOffset, c.byteLength);
  return { codec: c[0]!, n: dv.getUint32(1, true), min: dv.getFloat64(5, true), max: dv.getFloat64(13, true) };
}

/**
 * @internal The [min, max] time of a chunk from its header (the engine's time-range extractor).
 */
export function chunkTimeRange(c: Uint8Array): [number, number] | undefined {
  if (c.length < CHUNK_HEADER) return undefined;
  const h = header(c);
  return [h.min, h.max];
}

/**
 * Decodes a chunk made by {@link encodeChunk}.
 *
 * @param c - chunk bytes.
 * @returns its timestamps and values.
 * @throws LsmError `LSM_CORRUPT_BLOCK` when the bytes are not a valid chunk.
 * @example
 * ```ts
 * import { encodeChunk, decodeChunk } from '@dataplane/lsm';
 *
 * decodeChunk(encodeChunk(Float64Array.of(5), Float64Array.of(NaN), 1)).ts; // Float64Array [5]
 * ```
 * @since 0.1.0
 */
export function decodeChunk(c: Uint8Array): DecodedChunk {
  const h = header(c);
  if (h.n > MAX_CHUNK_POINTS || h.n === 0) throw new LsmError('LSM_CORRUPT_BLOCK', `chunk count ${h.n} is implausible`);
  const ts = new Float64Array(h.n);
  const vs = new Float64Array(h.n);
  try {
    if (h.codec === CODEC_GORILLA) gorillaDecode(new BitReader(c, CHUNK_HEADER), h.n, ts, vs);
    else if (h.codec === CODEC_PACKED_SUM || h.codec === CODEC_PACKED) packedDecode(new BitReader(c, CHUNK_HEADER), h.n, ts, vs, 0, h.codec === CODEC_PACKED_SUM);
    else if (h.codec === CODEC_DECIMAL) decimalDecode(c.subarray(CHUNK_HEADER), h.n, ts, vs);
    else throw new RangeError(`unknown codec ${h.codec}`);
  } catch (err) {
    throw new LsmError('LSM_CORRUPT_BLOCK', `chunk does not decode: ${(err as Error).message}`, { cause: err });
  }
  if (ts[0] !== h.min || ts[h.n - 1] !== h.max) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk header time range does not match its points');
  return { ts, vs };
}

