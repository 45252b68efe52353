/**
 * Public types of the key-value engine (layer 1 of `@dataplane/lsm`).
 *
 * @packageDocumentation
 */

/** Keys and values are byte arrays; the string overloads encode with UTF-8. @since 0.1.0 */
export type Bytes = Uint8Array;

/** Write-ahead log settings. @since 0.1.0 */
export interface WalOptions {
  /**
   * When the WAL is fsynced: `always` (each write is fsynced before it resolves; concurrent writes are
   * grouped into one fsync), `interval` (every `intervalMs`), `never` (left to the OS).
   * @defaultValue 'always'
   */
  sync?: 'always' | 'interval' | 'never' | undefined;
  /** Fsync period for `sync: 'interval'`. @defaultValue 100 */
  intervalMs?: number | undefined;
}

/** Options of {@link openDb}. @since 0.1.0 */
export interface DbOptions {
  /** The active memtable is flushed to a table when it holds this many bytes. @defaultValue 8 MiB */
  memtableBytes?: number | undefined;
  /** Size of one arena slab of the memtable. @defaultValue 2 MiB */
  arenaSlabBytes?: number | undefined;
  /**
   * WAL settings, or `false` for no WAL (log-as-WAL mode): then only data written before a completed
   * `flush()` survives a crash, and a flush is one atomic manifest edit.
   * @defaultValue `{ sync: 'always' }`
   */
  wal?: WalOptions | false | undefined;
  /** Target size of a data block before compression of shared prefixes. @defaultValue 4096 */
  blockBytes?: number | undefined;
  /** Bloom filter bits per key (0 disables the filter). @defaultValue 10 */
  bloomBitsPerKey?: number | undefined;
  /** Byte budget of the shared block cache. @defaultValue 32 MiB */
  blockCacheBytes?: number | undefined;
  /** Compaction strategy. @defaultValue leveled (see {@link leveledCompaction}) */
  compaction?: CompactionStrategy | undefined;
  /**
   * Per-entry time extractor: the min/max over a table's entries is stored in its footer, so iterators
   * with a `timeRange` and {@link Db.dropTablesOlderThan} can skip or drop whole tables.
   * Return `undefined` for entries without a time. @defaultValue undefined
   */
  timeRange?: ((key: Bytes, value: Bytes) => readonly [min: number, max: number] | undefined) | undefined;
  /**
   * Salvage mode: a WAL corrupted in the middle is replayed up to the damage (the rest is dropped and
   * counted in stats) instead of failing the open with `LSM_CORRUPT_WAL`. @defaultValue false
   */
  salvage?: boolean | undefined;
  /** Aborts the open. @defaultValue undefined */
  signal?: AbortSignal | undefined;
  /** Number of L0 tables at which writes slow down (a short delay per write). @defaultValue 8 */
  l0SlowdownTables?: number | undefined;
  /** Number of L0 tables (or unflushed memtables x2) at which writes wait for compaction. @defaultValue 16 */
  l0StopTables?: number | undefined;
  /** Injectable clock (ms since epoch), used for table creation times. @defaultValue Date.now */
  clock?: (() => number) | undefined;
  /** Injectable randomness in [0, 1), used for skiplist heights. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

/** A consistent read view; release it when done so compaction may drop old versions. @since 0.1.0 */
export interface Snapshot {
  /** Sequence number the snapshot sees (every write up to and including it). */
  readonly seq: number;
  /** Releases the snapshot (idempotent). */
  release(): void;
}

/** Range iterator options. Bounds are byte-wise lexicographic. @since 0.1.0 */
export interface IteratorOptions {
  gt?: Bytes | string | undefined;
  gte?: Bytes | string | undefined;
  lt?: Bytes | string | undefined;
  lte?: Bytes | string | undefined;
  /** Iterate from the largest key down. @defaultValue false */
  reverse?: boolean | undefined;
  /** Stop after this many entries. @defaultValue Infinity */
  limit?: number | undefined;
  /** Read at this snapshot. @defaultValue an implicit snapshot taken when iteration starts */
  snapshot?: Snapshot | undefined;
  /** Skip tables whose footer time range does not intersect `[min, max]`. @defaultValue undefined */
  timeRange?: { min: number; max: number } | undefined;
  /** Aborts the iteration (the next step throws `LSM_ABORTED`). @defaultValue undefined */
  signal?: AbortSignal | undefined;
}

/**
 * Options of a point read ({@link Db.get}, {@link Db.getMany}).
 *
 * @remarks
 * `timeRange` is a pruning hint: tables whose footer time range (from `DbOptions.timeRange`) does not
 * intersect `[min, max]` are skipped without a bloom check or a block read, and counted in
 * `stats().tablesPrunedByTime` (once per table per call). The caller promises that every entry of the
 * keys it reads (puts and the tombstones that shadow them) lies in tables that intersect the range, as
 * with a time series chunk whose own time range overlaps `[min, max]`; an entry held only by a skipped
 * table reads as absent, exactly as the same `timeRange` in {@link IteratorOptions} leaves it out of a
 * scan. Tables without a time range (no entry had one) are never skipped.
 *
 * @example
 * ```ts
 * import { openDb } from '@dataplane/lsm';
 *
 * await using db = await openDb('./data');
 * const [from, to] = [Date.now() - 3_600_000, Date.now()];
 * const v = await db.get('series-1/chunk-7', { timeRange: { min: from, max: to - 1 } });
 * const vs = await db.getMany(['series-1/chunk-7', 'series-2/chunk-7'], { timeRange: { min: from, max: to - 1 } });
 * console.log(v, vs);
 * ```
 * @since 0.1.0
 */
export interface GetOptions {
  /** Read at this snapshot. @defaultValue the latest state */
  snapshot?: Snapshot | undefined;
  /** Skip tables whose footer time range does not intersect `[min, max]`. @defaultValue undefined */
  timeRange?: { min: number; max: number } | undefined;
  /**
   * @internal Return values read from tables as read-only views into the engine's block cache
   * instead of copies (the time-series layer reads chunk bytes this way). Views must not be modified.
   * @defaultValue false
   */
  borrow?: boolean | undefined;
}

/** One operation of an atomic batch. @since 0.1.0 */
export type BatchOp =
  | { type: 'put'; key: Bytes | string; value: Bytes | string }
  | { type: 'del'; key: Bytes | string };

/** A chained, atomic batch of writes. @since 0.1.0 */
export interface WriteBatch {
  put(key: Bytes | string, value: Bytes | string): this;
  del(key: Bytes | string): this;
  /** Number of operations queued. */
  readonly length: number;
  /** Writes every queued operation atomically (one WAL record, one sequence range). */
  write(): Promise<void>;
}

/** Per-level statistics. @since 0.1.0 */
export interface LevelStats {
  level: number;
  tables: number;
  bytes: number;
}

/** A plain snapshot of the engine's counters and gauges. @since 0.1.0 */
export interface DbStats {
  closed: boolean;
  lastSeq: number;
  memtableBytes: number;
  immutableMemtables: number;
  arenaSlabs: number;
  walBytes: number;
  walSyncs: number;
  walRecordsReplayed: number;
  walBytesSalvaged: number;
  levels: LevelStats[];
  tables: number;
  diskBytes: number;
  flushes: number;
  compactions: number;
  compactionBytesRead: number;
  compactionBytesWritten: number;
  /** Bytes the user handed to put (keys + values). */
  userBytesWritten: number;
  /** (flush + compaction bytes written + WAL bytes) / user bytes. */
  writeAmplification: number;
  /** Writes that were slowed down because L0 piled up. */
  stallsSlowdown: number;
  /** Writes that waited for a flush or compaction. */
  stallsStop: number;
  stallMs: number;
  tablesOpened: number;
  tablesPrunedByTime: number;
  tablesDroppedByTime: number;
  bloomChecks: number;
  bloomNegatives: number;
  cacheHits: number;
  cacheMisses: number;
  cacheBytes: number;
  snapshots: number;
}

/** One table as a compaction strategy sees it. @since 0.1.0 */
export interface TableInfo {
  /** File number (`<id>.sst`); larger ids are newer. */
  readonly id: number;
  readonly level: number;
  /** File size in bytes. */
  readonly size: number;
  readonly entries: number;
  /** Smallest and largest user key in the table. */
  readonly smallest: Bytes;
  readonly largest: Bytes;
  /** Sequence-number range of the entries. */
  readonly minSeq: number;
  readonly maxSeq: number;
  /** Min/max of `DbOptions.timeRange` over the entries; `undefined` when no entry had a time. */
  readonly minTime: number | undefined;
  readonly maxTime: number | undefined;
  /** When the table was written (injected clock, ms). */
  readonly createdAt: number;
}

/** What a {@link CompactionStrategy} sees: the current version of the tree. @since 0.1.0 */
export interface VersionView {
  /**
   * `levels[i]` lists the tables of level `i` (L0 newest first, other levels by smallest key).
   * Flushes always write to L0. Tables of any level may overlap in key range; reads are correct for
   * any layout because every entry carries its sequence number.
   */
  readonly levels: readonly (readonly TableInfo[])[];
  /** Number of levels (7). A job's `outputLevel` must be below this. */
  readonly maxLevels: number;
  /** Ids of tables already taken by a running job (never pick them again). */
  readonly busy: ReadonlySet<number>;
  /** The injected clock's now (ms). */
  readonly now: number;
}

/** A unit of compaction work returned by {@link CompactionStrategy.pick}. @since 0.1.0 */
export interface CompactionJob {
  /** Ids of the input tables (any levels). They are merged and removed atomically with the outputs' add. */
  readonly inputs: readonly number[];
  /** Level the outputs are written to. */
  readonly outputLevel: number;
  /** Cut output tables at about this size. @defaultValue 8 MiB */
  readonly targetTableBytes?: number | undefined;
  /**
   * Optional partitioning: entries go to one output table per distinct returned number (e.g. a time
   * window), so a later {@link Db.dropTablesOlderThan} can drop whole windows. @defaultValue one stream
   */
  readonly partition?: ((key: Bytes, value: Bytes) => number) | undefined;
}

/**
 * A pluggable compaction policy. `pick` is called after each flush and each finished job; it sees the
 * levels (each table's key range, size, entry count, sequence and time range, creation time) and the set
 * of busy tables, and returns a job or `undefined` when nothing is worth doing. The engine merges the
 * inputs (newest version of each key wins; old versions still visible to a snapshot are kept; tombstones
 * are dropped when no table outside the job can hold an older version of the key), writes the outputs and
 * installs them in one manifest edit. A strategy must be pure with respect to the view (no I/O).
 *
 * @since 0.1.0
 */
export interface CompactionStrategy {
  readonly name: string;
  pick(version: VersionView): CompactionJob | undefined;
}

/**
 * An open LSM key-value store. Obtain one with {@link openDb}.
 *
 * @remarks
 * Every method validates its input (`LSM_INVALID_ARGUMENT`) and fails with `LSM_CLOSED` after
 * `close()`. Writes resolve when durable per `DbOptions.wal`; they fail with `LSM_IO` when the WAL or a
 * background flush/compaction failed earlier. Reads of a damaged table fail with `LSM_CORRUPT_BLOCK`.
 *
 * @example
 * ```ts
 * import { openDb, textOf } from '@dataplane/lsm';
 *
 * await using db = await openDb('./data', { wal: { sync: 'always' } });
 * await db.write([{ type: 'put', key: 'a', value: '1' }, { type: 'del', key: 'b' }]);
 * const snap = db.snapshot();
 * for await (const [k, v] of db.iterator({ gte: 'a', snapshot: snap })) console.log(textOf(k), textOf(v));
 * snap.release();
 * ```
 * @since 0.1.0
 */
export interface Db {
  put(key: Bytes | string, value: Bytes | string): Promise<void>;
  /** The value of `key`, or `undefined`; `opts.timeRange` skips tables outside it (see {@link GetOptions}). */
  get(key: Bytes | string, opts?: GetOptions): Promise<Bytes | undefined>;
  /**
   * The values of many keys in one call (`undefined` for an absent key), read at one snapshot, in the
   * order of `keys`. With `opts.timeRange`, the tables outside the range are set aside once for the
   * whole call (see {@link GetOptions}).
   *
   * @example
   * ```ts
   * import { openDb } from '@dataplane/lsm';
   *
   * await using db = await openDb('./data');
   * const [a, b] = await db.getMany(['a', 'b'], { timeRange: { min: 0, max: 1000 } });
   * console.log(a, b);
   * ```
   */
  getMany(keys: readonly (Bytes | string)[], opts?: GetOptions): Promise<(Bytes | undefined)[]>;
  del(key: Bytes | string): Promise<void>;
  /** A chained batch: `.put()` / `.del()` then `.write()`, atomic. */
  batch(): WriteBatch;
  /** Writes the operations atomically. */
  write(ops: readonly BatchOp[]): Promise<void>;
  /** Async-iterable range scan over a snapshot; `break` releases it. */
  iterator(opts?: IteratorOptions): AsyncIterable<[Bytes, Bytes]>;
  /** A consistent read view; call `release()` when done. */
  snapshot(): Snapshot;
  /** Memtable -> table, installed by one atomic manifest edit. Resolves when durable. */
  flush(): Promise<void>;
  /** Compacts every table overlapping `[start, end]` (all when omitted) into the last non-empty level. */
  compactRange(start?: Bytes | string, end?: Bytes | string): Promise<void>;
  /** Retention: deletes whole tables whose footer max time is `< time`; returns how many. */
  dropTablesOlderThan(time: number): Promise<number>;
  /** Flushes nothing, waits for background work, syncs the WAL, releases the lock. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  stats(): DbStats;
}
