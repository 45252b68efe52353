import { LsmError } from '../errors.js';
import { BitReader } from './bit-stream.js';
import { decimalDecode, decimalEncode } from './decimal-codec.js';
import { gorillaDecode, gorillaEncode, MAX_TIMESTAMP } from './gorilla.js';

/** Codec ids stored in the first byte of a chunk. */
export const CODEC_GORILLA = 1;
export const CODEC_DECIMAL = 2;
/** Bytes before the payload: codec u8, count u32, min time f64, max time f64. */
export const CHUNK_HEADER = 21;
/** Most points one chunk may hold. */
export const MAX_CHUNK_POINTS = 1 << 24;

/** Options of {@link encodeChunk}. */
export interface ChunkEncodeOptions {
  /** Try the decimal-aware codec and keep it when smaller. @defaultValue true */
  decimal?: boolean | undefined;
}

/**
 * Encodes `n` points sorted by time (strictly increasing timestamps) as one chunk: Gorilla, or the
 * decimal-aware codec when the values are decimals and that is smaller.
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
    if (!Number.isInteger(t) || Math.abs(t) > MAX_TIMESTAMP) throw new LsmError('LSM_INVALID_ARGUMENT', `timestamp ${t} is not an integer within ±${MAX_TIMESTAMP}`);
    if (i > 0 && t <= ts[i - 1]!) throw new LsmError('LSM_INVALID_ARGUMENT', 'chunk timestamps must be strictly increasing');
  }
  const g = gorillaEncode(ts, vs, n).finish();
  let codec = CODEC_GORILLA;
  let payload = g;
  if (opts.decimal !== false && g.length > 32) {
    const d = decimalEncode(ts, vs, n);
    if (d !== undefined && d.length < g.length) {
      codec = CODEC_DECIMAL;
      payload = d;
    }
  }
  const out = new Uint8Array(CHUNK_HEADER + payload.length);
  const dv = new DataView(out.buffer);
  out[0] = codec;
  dv.setUint32(1, n, true);
  dv.setFloat64(5, ts[0]!, true);
  dv.setFloat64(13, ts[n - 1]!, true);
  out.set(payload, CHUNK_HEADER);
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
    else if (h.codec === CODEC_DECIMAL) decimalDecode(c.subarray(CHUNK_HEADER), h.n, ts, vs);
    else throw new RangeError(`unknown codec ${h.codec}`);
  } catch (err) {
    throw new LsmError('LSM_CORRUPT_BLOCK', `chunk does not decode: ${(err as Error).message}`, { cause: err });
  }
  if (ts[0] !== h.min || ts[h.n - 1] !== h.max) throw new LsmError('LSM_CORRUPT_BLOCK', 'chunk header time range does not match its points');
  return { ts, vs };
}

