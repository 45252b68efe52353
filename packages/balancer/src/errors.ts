const BRAND = Symbol.for('dataplane.balancer.error');

/**
 * Every error code that `@dataplane/balancer` throws. A new code is a minor change; removing or renaming
 * one is a major change.
 *
 * @since 0.1.0
 */
export type BalancerErrorCode =
  | 'BALANCER_INVALID_ARGUMENT'
  | 'BALANCER_NO_ENDPOINT'
  | 'BALANCER_CLOSED'
  | 'BALANCER_XDS_NACK'
  | 'BALANCER_WATCH_FAILED'
  | 'BALANCER_DRIVER_MISSING'
  | 'BALANCER_ABORTED';

/** Options accepted by {@link BalancerError}. */
export interface BalancerErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Whether the same call may succeed if retried later. @defaultValue false */
  retryable?: boolean | undefined;
  /** A hint, in milliseconds, for when a retry may succeed. */
  retryAfterMs?: number | undefined;
}

/**
 * The one error class of `@dataplane/balancer`: every failure carries a stable string `code`.
 *
 * @remarks
 * Use {@link BalancerError.is} rather than `instanceof`: when both the ESM and the CJS build of the package are
 * loaded in one process, `instanceof` fails across the copies, while the brand check does not.
 *
 * @example
 * ```ts
 * import { BalancerError } from '@dataplane/balancer';
 *
 * try {
 *   throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'bad input');
 * } catch (err) {
 *   if (BalancerError.is(err) && err.code === 'BALANCER_INVALID_ARGUMENT') console.error(err.message);
 * }
 * ```
 * @since 0.1.0
 */
export class BalancerError extends Error {
  override readonly name: string = 'BalancerError';
  /** Stable, machine-readable error code. */
  readonly code: BalancerErrorCode;
  /** Whether the same call may succeed if retried later. */
  readonly retryable: boolean;
  /** A hint, in milliseconds, for when a retry may succeed. */
  readonly retryAfterMs: number | undefined;
  /** @internal */
  readonly [BRAND] = true;

  constructor(code: BalancerErrorCode, message: string, options: BalancerErrorOptions = {}) {
    super(`[@dataplane/balancer] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Whether `err` is a {@link BalancerError} (from any copy of this package), optionally with the given code.
   *
   * @example
   * ```ts
   * import { BalancerError } from '@dataplane/balancer';
   *
   * const err: unknown = new BalancerError('BALANCER_INVALID_ARGUMENT', 'bad input');
   * BalancerError.is(err, 'BALANCER_INVALID_ARGUMENT'); // true
   * ```
   */
  static is(err: unknown, code?: BalancerErrorCode): err is BalancerError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (err as BalancerError).code === code)
    );
  }
}
