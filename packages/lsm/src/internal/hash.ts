/** 32-bit Murmur3 over a byte range with a seed. Internal (bloom filters). */
export function murmur3(buf: Uint8Array, start: number, end: number, seed: number): number {
  let h = seed >>> 0;
  let i = start;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  while (end - i >= 4) {
    let k = buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    i += 4;
  }
  const rem = end - i;
  if (rem > 0) {
    let k = 0;
    if (rem === 3) k ^= buf[i + 2]! << 16;
    if (rem >= 2) k ^= buf[i + 1]! << 8;
    k ^= buf[i]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= end - start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
