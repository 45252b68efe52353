const BRAND = Symbol.for('dataplane.outbox.error');

/**
 * Every error code that `@dataplane/outbox` throws. A new code is a minor change; removing or renaming
 * one is a major change.
 *
 * @since 0.1.0
 */
export type OutboxErrorCode =
  | 'OUTBOX_INVALID_EVENT'
  | 'OUTBOX_INVALID_ARGUMENT'
  | 'OUTBOX_SCHEMA_MISMATCH'
  | 'OUTBOX_TRANSPORT_UNAVAILABLE'
  | 'OUTBOX_PUBLISH_FAILED'
  | 'OUTBOX_SLOT_LOST'
  | 'OUTBOX_PUBLICATION_MISSING'
  | 'OUTBOX_CLOSED'
  | 'OUTBOX_DRIVER_MISSING'
  | 'OUTBOX_ABORTED'
  | 'OUTBOX_PROTOCOL'
  | 'OUTBOX_SLOT_MISSING'
  | 'OUTBOX_SLOT_BUSY'
  | 'OUTBOX_REPLICATION_FAILED';

/** Options accepted by {@link OutboxError}. */
export interface OutboxErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Whether the same call may succeed if retried later. @defaultValue false */
  retryable?: boolean | undefined;
  /** A hint, in milliseconds, for when a retry may succeed. */
  retryAfterMs?: number | undefined;
}

/**
 * The one error class of `@dataplane/outbox`: every failure carries a stable string `code`.
 *
 * @remarks
 * Use {@link OutboxError.is} rather than `instanceof`: when both the ESM and the CJS build of the package are
 * loaded in one process, `instanceof` fails across the copies, while the brand check does not.
 *
 * @example
 * ```ts
 * import { OutboxError } from '@dataplane/outbox';
 *
 * try {
 *   throw new OutboxError('OUTBOX_INVALID_EVENT', 'bad input');
 * } catch (err) {
 *   if (OutboxError.is(err) && err.code === 'OUTBOX_INVALID_EVENT') console.error(err.message);
 * }
 * ```
 * @since 0.1.0
 */
export class OutboxError extends Error {
  override readonly name: string = 'OutboxError';
  /** Stable, machine-readable error code. */
  readonly code: OutboxErrorCode;
  /** Whether the same call may succeed if retried later. */
  readonly retryable: boolean;
  /** A hint, in milliseconds, for when a retry may succeed. */
  readonly retryAfterMs: number | undefined;
  /** @internal */
  readonly [BRAND] = true;

  constructor(code: OutboxErrorCode, message: string, options: OutboxErrorOptions = {}) {
    super(`[@dataplane/outbox] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Whether `err` is a {@link OutboxError} (from any copy of this package), optionally with the given code.
   *
   * @example
   * ```ts
   * import { OutboxError } from '@dataplane/outbox';
   *
   * const err: unknown = new OutboxError('OUTBOX_INVALID_EVENT', 'bad input');
   * OutboxError.is(err, 'OUTBOX_INVALID_EVENT'); // true
   * ```
   */
  static is(err: unknown, code?: OutboxErrorCode): err is OutboxError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (err as OutboxError).code === code)
    );
  }
}
