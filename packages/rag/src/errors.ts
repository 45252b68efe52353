const BRAND = Symbol.for('dataplane.rag.error');

/**
 * Every error code that `@dataplane/rag` throws. A new code is a minor change; removing or renaming
 * one is a major change.
 *
 * @since 0.1.0
 */
export type RagErrorCode =
  | 'RAG_INVALID_ARGUMENT'
  | 'RAG_NOT_FOUND'
  | 'RAG_CLOSED'
  | 'RAG_CORRUPT_INDEX'
  | 'RAG_DATASET_INVALID'
  | 'RAG_GENERATOR_FAILED'
  | 'RAG_MODEL_MISSING'
  | 'RAG_ABORTED';

/** Options accepted by {@link RagError}. */
export interface RagErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Whether the same call may succeed if retried later. @defaultValue false */
  retryable?: boolean | undefined;
  /** A hint, in milliseconds, for when a retry may succeed. */
  retryAfterMs?: number | undefined;
}

/**
 * The one error class of `@dataplane/rag`: every failure carries a stable string `code`.
 *
 * @remarks
 * Use {@link RagError.is} rather than `instanceof`: when both the ESM and the CJS build of the package are
 * loaded in one process, `instanceof` fails across the copies, while the brand check does not.
 *
 * @example
 * ```ts
 * import { RagError } from '@dataplane/rag';
 *
 * try {
 *   throw new RagError('RAG_INVALID_ARGUMENT', 'bad input');
 * } catch (err) {
 *   if (RagError.is(err) && err.code === 'RAG_INVALID_ARGUMENT') console.error(err.message);
 * }
 * ```
 * @since 0.1.0
 */
export class RagError extends Error {
  override readonly name: string = 'RagError';
  /** Stable, machine-readable error code. */
  readonly code: RagErrorCode;
  /** Whether the same call may succeed if retried later. */
  readonly retryable: boolean;
  /** A hint, in milliseconds, for when a retry may succeed. */
  readonly retryAfterMs: number | undefined;
  /** @internal */
  readonly [BRAND] = true;

  constructor(code: RagErrorCode, message: string, options: RagErrorOptions = {}) {
    super(`[@dataplane/rag] ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  /**
   * Whether `err` is a {@link RagError} (from any copy of this package), optionally with the given code.
   *
   * @example
   * ```ts
   * import { RagError } from '@dataplane/rag';
   *
   * const err: unknown = new RagError('RAG_INVALID_ARGUMENT', 'bad input');
   * RagError.is(err, 'RAG_INVALID_ARGUMENT'); // true
   * ```
   */
  static is(err: unknown, code?: RagErrorCode): err is RagError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (err as RagError).code === code)
    );
  }
}
