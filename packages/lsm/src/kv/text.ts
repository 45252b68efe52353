/** String helpers for keys and values. */
import { LsmError } from '../errors.js';
import type { Bytes } from './types.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a string as UTF-8 bytes (the same encoding `put`/`get` apply to string arguments).
 *
 * @param text - the string.
 * @returns its UTF-8 bytes.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when `text` is not a string.
 * @example
 * ```ts
 * import { bytesOf } from '@dataplane/lsm';
 *
 * bytesOf('user:1'); // Uint8Array [117, 115, ...]
 * ```
 * @since 0.1.0
 */
export function bytesOf(text: string): Bytes {
  if (typeof text !== 'string') throw new LsmError('LSM_INVALID_ARGUMENT', 'bytesOf expects a string');
  return enc.encode(text);
}

/**
 * Decodes UTF-8 bytes (a key or value) to a string.
 *
 * @param bytes - UTF-8 bytes.
 * @returns the string.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when `bytes` is not a Uint8Array or not valid UTF-8.
 * @example
 * ```ts
 * import { openDb, textOf } from '@dataplane/lsm';
 *
 * await using db = await openDb('./data');
 * const v = await db.get('user:1');
 * if (v) console.log(textOf(v));
 * ```
 * @since 0.1.0
 */
export function textOf(bytes: Bytes): string {
  if (!(bytes instanceof Uint8Array)) throw new LsmError('LSM_INVALID_ARGUMENT', 'textOf expects a Uint8Array');
  try {
    return dec.decode(bytes);
  } catch (err) {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'bytes are not valid UTF-8', { cause: err });
  }
}
