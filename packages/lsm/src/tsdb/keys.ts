/**
 * @internal Key layout of the time-series layer inside the KV engine (all big-endian, so byte order is
 * (org, metric, series id, chunk start, write sequence) order):
 *
 * - `c` org 0 metric 0 id(8) chunkStart(8, offset by 2^52) seq(4) -> chunk
 * - `p` org 0 metric 0 tagKey 0 tagValue 0 id(8)                  -> '' (postings)
 * - `s` id(8)                                                     -> series JSON {org, metric, tags}
 * - `w` seq(8)                                                    -> head log record (unflushed points)
 * - `x` name                                                      -> internal counters
 * - `u` key                                                       -> caller metadata (`write(..., { meta })`)
 */
export const K_CHUNK = 0x63;
export const K_POSTING = 0x70;
export const K_SERIES = 0x73;
export const K_HEADLOG = 0x77;
export const K_INTERNAL = 0x78;
export const K_USER = 0x75;

const enc = new TextEncoder();
const TIME_OFFSET = 2 ** 52;

function writeU64(out: Uint8Array, at: number, x: number): void {
  const hi = Math.floor(x / 2 ** 32);
  const lo = x % 2 ** 32;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 255;
  out[at + 2] = (hi >>> 8) & 255;
  out[at + 3] = hi & 255;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 255;
  out[at + 6] = (lo >>> 8) & 255;
  out[at + 7] = lo & 255;
}

function readU64(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi * 2 ** 32 + lo;
}

/** The 8 big-endian bytes of a 64-bit series id. */
export function idBytes(id: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, id);
  return out;
}

/** Prefix `tag` org 0 metric 0. */
export function metricPrefix(tag: number, org: string, metric: string): Uint8Array {
  const a = enc.encode(org);
  const m = enc.encode(metric);
  const out = new Uint8Array(1 + a.length + 1 + m.length + 1);
  out[0] = tag;
  out.set(a, 1);
  out.set(m, 2 + a.length);
  return out;
}

/** Chunk key (or a bound: pass seq 0 / 0xffffffff). */
export function chunkKey(prefix: Uint8Array, id: Uint8Array, chunkStart: number, seq: number): Uint8Array {
  const out = new Uint8Array(prefix.length + 20);
  chunkKeyInto(out, 0, prefix, id, chunkStart, seq);
  return out;
}

/** Writes the {@link chunkKey} of `(prefix, id, chunkStart, seq)` at `out[off]` (`prefix.length + 20` bytes). */
export function chunkKeyInto(out: Uint8Array, off: number, prefix: Uint8Array, id: Uint8Array, chunkStart: number, seq: number): void {
  out.set(prefix, off);
  out.set(id, off + prefix.length);
  writeU64(out, off + prefix.length + 8, chunkStart + TIME_OFFSET);
  const at = off + prefix.length + 16;
  const s = seq >>> 0;
  out[at] = s >>> 24;
  out[at + 1] = (s >>> 16) & 255;
  out[at + 2] = (s >>> 8) & 255;
  out[at + 3] = s & 255;
}

/** Parsed tail of a chunk key. */
export function chunkKeyStart(key: Uint8Array): number {
  return readU64(key, key.length - 12) - TIME_OFFSET;
}

export function chunkKeySeq(key: Uint8Array): number {
  const n = key.length;
  return ((key[n - 4]! << 24) | (key[n - 3]! << 16) | (key[n - 2]! << 8) | key[n - 1]!) >>> 0;
}

/** The 8 id bytes of a chunk key as a bigint. */
export function chunkKeyId(key: Uint8Array): bigint {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(key.length - 20);
}

export function postingKey(org: string, metric: string, tagKey: string, tagValue: string, id: Uint8Array): Uint8Array {
  const p = metricPrefix(K_POSTING, org, metric);
  const k = enc.encode(tagKey);
  const v = enc.encode(tagValue);
  const out = new Uint8Array(p.length + k.length + 1 + v.length + 1 + 8);
  out.set(p, 0);
  out.set(k, p.length);
  out.set(v, p.length + k.length + 1);
  out.set(id, out.length - 8);
  return out;
}

export function seriesKeyBytes(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = K_SERIES;
  out.set(id, 1);
  return out;
}

export function headLogKey(seq: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = K_HEADLOG;
  writeU64(out, 1, seq);
  return out;
}

export function taggedKey(tag: number, name: string | Uint8Array): Uint8Array {
  const n = typeof name === 'string' ? enc.encode(name) : name;
  const out = new Uint8Array(1 + n.length);
  out[0] = tag;
  out.set(n, 1);
  return out;
}

/** Smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = prefix.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 255) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return new Uint8Array([255, 255, 255, 255]);
}
