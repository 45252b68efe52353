import { OutboxError } from '../errors.js';

/**
 * A PostgreSQL log sequence number in its text form (`16/B374D848`): two hexadecimal 32-bit halves.
 *
 * @since 0.1.0
 */
export type Lsn = string;

const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Parses an LSN (`'16/B374D848'`) into a 64-bit integer, so that LSNs compare and subtract exactly.
 *
 * @throws {@link OutboxError} `OUTBOX_INVALID_ARGUMENT` when the text is not an LSN.
 * @example
 * ```ts
 * import { parseLsn } from '@dataplane/outbox';
 *
 * parseLsn('0/16B3748') < parseLsn('1/0'); // true
 * ```
 * @since 0.1.0
 */
export function parseLsn(lsn: Lsn): bigint {
  const m = LSN_RE.exec(lsn);
  if (!m) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `not an LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/**
 * Formats a 64-bit LSN the way PostgreSQL prints it (`'16/B374D848'`).
 *
 * @example
 * ```ts
 * import { formatLsn, parseLsn } from '@dataplane/outbox';
 *
 * formatLsn(parseLsn('16/b374d848')); // '16/B374D848'
 * ```
 * @since 0.1.0
 */
export function formatLsn(value: bigint): Lsn {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `LSN out of range: ${value}`);
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffff_ffffn).toString(16).toUpperCase()}`;
}
