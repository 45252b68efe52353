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
export function uuidv7(now: number = Date.now(), random: (bytes: Uint8Array) => void = (b) => crypto.getRandomValues(b)): string {
  const b = new Uint8Array(16);
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
  let hex = '';
  for (let i = 0; i < 16; i++) hex += b[i]!.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a UUID in canonical form (any version). @internal */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}
