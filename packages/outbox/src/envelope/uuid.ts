/**
 * Makes a UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits. Ids sort by creation
 * time, which keeps outbox and inbox index inserts append-mostly.
 *
 * @param now - Milliseconds since the epoch. @defaultValue Date.now()
 * @param random - Fills the random bytes. @defaultValue crypto.getRandomValues
 * @returns The id in canonical lower-case 8-4-4-4-12 form.
 * @example
 * ```ts
 * import { uuidv7 } from '@dataplane/outbox';
 *
 * const id = uuidv7(); // '0193...-7...-8...-...'
 * ```
 * @since 0.1.0
 */
export function uuidv7(now: number = Date.now(), random: (bytes: Uint8Array) => void = pooledRandom): string {
  const b = scratch;
  random(b);
  const ms = Math.max(0, Math.floor(now));
  const hi = Math.floor(ms / 0x1_0000_0000);
  const lo = ms >>> 0;
  b[0] = (hi >>> 8) & 0xff;
  b[1] = hi & 0xff;
  b[2] = (lo >>> 24) & 0xff;
  b[3] = (lo >>> 16) & 0xff;
  b[4] = (lo >>> 8) & 0xff;
  b[5] = lo & 0xff;
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = HEX;
  return (
    h[b[0]!]! + h[b[1]!]! + h[b[2]!]! + h[b[3]!]! + '-' + h[b[4]!]! + h[b[5]!]! + '-' + h[b[6]!]! + h[b[7]!]! + '-' +
    h[b[8]!]! + h[b[9]!]! + '-' + h[b[10]!]! + h[b[11]!]! + h[b[12]!]! + h[b[13]!]! + h[b[14]!]! + h[b[15]!]!
  );
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The 16 bytes of the id being made (uuidv7 is synchronous, so one buffer serves every call). */
const scratch = new Uint8Array(16);
/** Random bytes fetched 4 KiB at a time: one `getRandomValues` call per 256 ids instead of one per id. */
const pool = new Uint8Array(4096);
let poolPos = pool.length;
function pooledRandom(b: Uint8Array): void {
  if (poolPos + b.length > pool.length) {
    crypto.getRandomValues(pool);
    poolPos = 0;
  }
  b.set(pool.subarray(poolPos, poolPos + b.length));
  poolPos += b.length;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a UUID in canonical form (any version). @internal */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}
