/** Bloom filter with double hashing over two Murmur3 seeds. Internal. */
import { murmur3 } from '../internal/hash.js';

const SEED1 = 0x9747b28c;
const SEED2 = 0x5bd1e995;

/** Number of probes for `bitsPerKey` (k = bits * ln 2, clamped to [1, 30]). */
export function probesFor(bitsPerKey: number): number {
  return Math.max(1, Math.min(30, Math.round(bitsPerKey * Math.LN2)));
}

/** Theoretical false-positive rate of a filter with `m` bits, `n` keys and `k` probes. */
export function theoreticalFpr(m: number, n: number, k: number): number {
  return (1 - Math.exp((-k * n) / m)) ** k;
}

export function hash1(key: Uint8Array, start: number, end: number): number {
  return murmur3(key, start, end, SEED1);
}
export function hash2(key: Uint8Array, start: number, end: number): number {
  return murmur3(key, start, end, SEED2) | 1;
}

/** Builds the filter bytes `[k u8][m u32 LE][bits]` from collected hash pairs. */
export function buildBloom(h1: Uint32Array, h2: Uint32Array, n: number, bitsPerKey: number): Buffer {
  const m = Math.max(64, Math.ceil(n * bitsPerKey));
  const k = probesFor(bitsPerKey);
  const out = Buffer.alloc(5 + Math.ceil(m / 8));
  out[0] = k;
  out.writeUInt32LE(m, 1);
  for (let i = 0; i < n; i++) {
    let h = h1[i]!;
    const d = h2[i]!;
    for (let j = 0; j < k; j++) {
      const bit = h % m;
      out[5 + (bit >>> 3)]! |= 1 << (bit & 7);
      h = (h + d) >>> 0;
    }
  }
  return out;
}

/** Whether the filter may contain the key with hashes (a, b). */
export function bloomMayContain(filter: Buffer, a: number, b: number): boolean {
  if (filter.length < 5) return true;
  const k = filter[0]!;
  const m = filter.readUInt32LE(1);
  let h = a;
  for (let j = 0; j < k; j++) {
    const bit = h % m;
    if ((filter[5 + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
    h = (h + b) >>> 0;
  }
  return true;
}
