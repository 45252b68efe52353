/**
 * The port every partitioned log implements: Kafka's model of a topic with partitions `0..P-1`, each an
 * ordered sequence of records addressed by a monotonic offset.
 *
 * @remarks
 * Offsets are `bigint`s that only grow within a partition. They are not dense: Redis Streams ids and
 * JetStream sequences both leave gaps, so "the next offset" is never `offset + 1n`; a consumer resumes with
 * `consume(partition, { after: lastAppliedOffset })`. Committing is the consumer's job, in its own storage
 * (see {@link LogNode}), never the log's.
 *
 * @since 0.1.0
 */
export interface LogSource extends AsyncDisposable {
  /** Name of the topic (stream key prefix for Redis, stream name for JetStream). */
  readonly topic: string;
  /** Number of partitions, `0..partitions-1`. */
  readonly partitions: number;
  /** Creates the topic if needed. Idempotent. */
  start(signal?: AbortSignal): Promise<void>;
  /**
   * Appends `values` to one partition, in order.
   *
   * @returns the offset given to each value, in the same order.
   */
  produce(partition: number, values: readonly Uint8Array[], signal?: AbortSignal): Promise<bigint[]>;
  /**
   * Reads one partition from just after `after` (or from its beginning), as batches.
   *
   * @remarks
   * The iterable is pull-driven: the next batch is fetched only when the previous one was taken, so at
   * most one batch (`maxBatch` records) is buffered. `break` or `signal` releases the reader.
   */
  consume(partition: number, options?: ConsumeOptions): AsyncIterable<LogBatch>;
  /** The offset of the last record of `partition`, or `undefined` when it is empty. */
  endOffset(partition: number, signal?: AbortSignal): Promise<bigint | undefined>;
  /** Deletes the topic and all its records. For tests and benchmarks. */
  destroy(signal?: AbortSignal): Promise<void>;
  /** Releases connections this source opened. Idempotent; never closes a client the caller owns. */
  close(): Promise<void>;
  /** Same as close(). */
  [Symbol.asyncDispose](): Promise<void>;
  /** A plain snapshot of counters. */
  stats(): LogSourceStats;
}

/** Options of {@link LogSource.consume}. */
export interface ConsumeOptions {
  /** Start just after this offset; `undefined` starts at the beginning of the partition. @defaultValue undefined */
  after?: bigint | undefined;
  /** Most records per batch. @defaultValue 1000 */
  maxBatch?: number | undefined;
  /**
   * `true`: wait for new records forever (until `signal` or `break`). `false`: end once the partition's
   * end (as seen when the call started) was delivered. @defaultValue true
   */
  follow?: boolean | undefined;
  /** How long one read waits for new records before checking `signal` again. @defaultValue 1000 */
  pollMs?: number | undefined;
  /** Stops the iteration (it ends without error). */
  signal?: AbortSignal | undefined;
}

/** One record read from a partition. */
export interface LogRecord {
  /** Its offset in the partition. */
  readonly offset: bigint;
  /** Its payload. */
  readonly value: Uint8Array;
}

/** Consecutive records of one partition, in offset order. */
export interface LogBatch {
  readonly partition: number;
  readonly records: readonly LogRecord[];
}

/** Counters of a {@link LogSource}. */
export interface LogSourceStats {
  produced: number;
  consumed: number;
  batches: number;
}
