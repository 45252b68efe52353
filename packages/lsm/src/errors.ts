const BRAND = Symbol.for('dataplane.lsm.error');

/**
 * Every error code that `@dataplane/lsm` throws. A new code is a minor change; removing or renaming
 * one is a major change.
 *
 * @since 0.1.0
 */
export type LsmErrorCode =
  | 'LSM_INVALID_ARGUMENT'
  | 'LSM_CLOSED'
  | 'LSM_LOCKED'
  | 'LSM_CORRUPT_BLOCK'
  | 'LSM_CORRUPT_WAL'
  | 'LSM_CORRUPT_MANIFEST'
  | 'LSM_IO'
  | 'LSM_NOT_FOUND'
  | 'LSM_OVERLOADED'
  | 'LSM_DRIVER_MISSING'
  | 'LSM_ABORTED';

/** Options accepted by {@link LsmError}. */
export interface LsmErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Whether the same call may succeed if retried later. @defaultValue false */
  retryable?: boolean | undefined;
  /** A hint, in milliseconds, for when a retry may succeed. */
  retryAfterMs?: number | undefined;
}

/**
 * The one error class of `@dataplane/lsm`: every failure carries a stable string `code`.
 *
 * @remarks
 * Use {@link LsmError.is} rather than `instanceof`: when both the ESM and the CJS build of the package are
 * loaded in one process, `instanceof` fails across the copies, while the brand check does not.
 *
 * @example
 * ```ts
 * import { LsmError } from '@dataplane/lsm';
 *
 * try {
 *   throw new LsmError('LSM_INVALID_ARGUMENT', 'bad input');
 * } catch (err) {
 *   if (LsmError.is(err) && err.code === 'LSM_INVALID_ARGUMENT') console.error(err.message);
 * }
 * ```
 * @since 0.1.0
 */
export class LsmError extends Error {
  override readonly name: string = 'LsmError';
  /** Stable, machine-readable error code. */
  readonly code: LsmErrorCode;
  /** Whether the same call may succeed if retried later. */
  readonly retryable: boolean;
  /** A hint, in milliseconds, for when a retry may succeed. */
  readonly retryAfterMs: number | undefined;
  /** @internal */
  readonly [BRAND] = true;

  constructor(code: LsmErrorCode, message: string, options: LsmErrorOptions = {}) {
    super(`[@dataplane/lsm] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Whether `err` is a {@link LsmError} (from any copy of this package), optionally with the given code.
   *
   * @example
   * ```ts
   * import { LsmError } from '@dataplane/lsm';
   *
   * const err: unknown = new LsmError('LSM_INVALID_ARGUMENT', 'bad input');
   * LsmError.is(err, 'LSM_INVALID_ARGUMENT'); // true
   * ```
   */
  static is(err: unknown, code?: LsmErrorCode): err is LsmError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (err as LsmError).code === code)
    );
  }
}
