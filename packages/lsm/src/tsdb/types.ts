import type { CompactionStrategy, DbStats, WalOptions } from '../kv/types.js';

/** Tags (labels) of a series: names and values are strings without NUL or U+0001. @since 0.1.0 */
export type Tags = Readonly<Record<string, string>>;

/** One point in object form. @since 0.1.0 */
export interface TsdbPoint {
  /** Tenant. @defaultValue '' */
  org?: string | undefined;
  /** Metric name (non-empty). */
  metric: string;
  /** Tags. @defaultValue {} */
  tags?: Tags | undefined;
  /** Timestamp, integer ms, |ts| <= MAX_TIMESTAMP. */
  ts: number;
  /** Value (any float64; NaN and infinities are stored as such). */
  value: number;
}

/** A series named once in a columnar batch. @since 0.1.0 */
export interface SeriesRef {
  org?: string | undefined;
  metric: string;
  tags?: Tags | undefined;
}

/**
 * Columnar batch: point i belongs to `series[seriesIndex[i]]`, at `ts[i]` with `values[i]`. Series are
 * resolved once per batch, so this form allocates nothing per point; it is the fast path of
 * {@link Tsdb.write}.
 *
 * @remarks
 * Reuse the same `SeriesRef` objects (e.g. the same `series` array) across batches: the database
 * remembers what each object resolved to and, while its org, metric and tags are unchanged, skips
 * building and hashing its key again. Changing a ref (in place or by replacing its tags) is detected:
 * the ref is then resolved again, to the series it names now.
 *
 * @example
 * ```ts
 * import { openTsdb, type ColumnarBatch } from '@dataplane/lsm';
 *
 * await using db = await openTsdb('./data');
 * const series = [{ metric: 'cpu', tags: { host: 'a' } }, { metric: 'cpu', tags: { host: 'b' } }];
 * const batch: ColumnarBatch = { series, seriesIndex: Uint32Array.of(0, 1), ts: Float64Array.of(1000, 1000), values: Float64Array.of(0.5, 0.7) };
 * await db.write(batch);
 * ```
 * @since 0.1.0
 */
export interface ColumnarBatch {
  series: readonly SeriesRef[];
  seriesIndex: Uint32Array;
  ts: Float64Array;
  values: Float64Array;
}

/** Options of {@link Tsdb.write}. @since 0.1.0 */
export interface TsdbWriteOptions {
  /**
   * Extra keys stored atomically with these points (e.g. a log offset): with the head log on, in the same
   * engine batch as the points; with `wal: false`, in the same batch as the flush that persists them.
   * @defaultValue undefined
   */
  meta?: ReadonlyArray<readonly [key: string, value: string | Uint8Array]> | undefined;
  /** Rejects with `LSM_ABORTED` if aborted before the write starts. @defaultValue undefined */
  signal?: AbortSignal | undefined;
}

/** Tag matcher tree. `=~` and `!~` are anchored regular expressions over the whole value. @since 0.1.0 */
export type Matcher =
  | { tag: string; op: '=' | '!=' | '=~' | '!~'; value: string }
  | { tag: string; op: 'exists' | '!exists' }
  | { and: readonly Matcher[] }
  | { or: readonly Matcher[] }
  | { not: Matcher };

/** Step aggregations. `rate` is per-second increase of a counter (resets count from zero). @since 0.1.0 */
export type TsdbAggregation = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'last' | 'rate' | 'p50' | 'p90' | 'p99';

/** Which series survive a top-k. @since 0.1.0 */
export interface TopK {
  /** How many series to keep. */
  k: number;
  /** Reduction of each result series' values used to rank it. @defaultValue 'max' */
  by?: 'max' | 'min' | 'avg' | 'sum' | 'last' | undefined;
  /** @defaultValue 'desc' */
  order?: 'desc' | 'asc' | undefined;
}

/**
 * A predicate on point values: every bound given must hold (`{ gt: 90 }` is `value > 90`,
 * `{ gte: 10, lt: 20 }` is `10 <= value < 20`). NaN fails every bound; `{}` keeps every point.
 *
 * @example
 * ```ts
 * import { openTsdb } from '@dataplane/lsm';
 *
 * await using db = await openTsdb('./data');
 * // TSBS high-cpu: the points of one host where usage_user > 90
 * const q = { metric: 'cpu_usage_user', where: { tag: 'hostname', op: '=', value: 'host_0' } as const, from: 0, to: Date.now(), valueFilter: { gt: 90 } };
 * for await (const s of db.query(q)) console.log(s.ts, s.values);
 * ```
 * @since 0.1.0
 */
export interface ValueFilter {
  /** Keep values `> gt`. @defaultValue no bound */
  gt?: number | undefined;
  /** Keep values `>= gte`. @defaultValue no bound */
  gte?: number | undefined;
  /** Keep values `< lt`. @defaultValue no bound */
  lt?: number | undefined;
  /** Keep values `<= lte`. @defaultValue no bound */
  lte?: number | undefined;
}

/** A query. Time range is `[from, to)`. @since 0.1.0 */
export interface TsdbQuery {
  /** @defaultValue '' */
  org?: string | undefined;
  metric: string;
  /** @defaultValue every series of the metric */
  where?: Matcher | undefined;
  from: number;
  to: number;
  /** Bucket width (ms); buckets start at multiples of `step`. @defaultValue raw points (or one bucket when grouping) */
  step?: number | undefined;
  /** @defaultValue 'avg' */
  agg?: TsdbAggregation | undefined;
  /** Group series by these tag keys (`[]` = everything in one group). @defaultValue no grouping */
  groupBy?: readonly string[] | undefined;
  /** Keep only the k best result series. @defaultValue all */
  topK?: TopK | undefined;
  /**
   * Keep only points whose value passes this filter, before any aggregation (like SQL `WHERE value > 90`
   * under a `GROUP BY`): raw results hold the matching points, aggregates are over them, and series
   * (or groups) left without points are omitted.
   * @defaultValue every point
   * @since 0.1.0
   */
  valueFilter?: ValueFilter | undefined;
  /** Aborts the query (the iteration throws `LSM_ABORTED`). @defaultValue undefined */
  signal?: AbortSignal | undefined;
}

/** One result series. @since 0.1.0 */
export interface TsdbSeries {
  org: string;
  metric: string;
  /** The series' tags, or the group's tag values when grouping. */
  tags: Record<string, string>;
  /** Series id (16 hex digits), only for ungrouped results. */
  id?: string | undefined;
  /** Number of stored series that contributed. */
  series: number;
  ts: Float64Array;
  values: Float64Array;
}

/** A series selector. @since 0.1.0 */
export interface SeriesSelector {
  org?: string | undefined;
  metric: string;
  where?: Matcher | undefined;
  signal?: AbortSignal | undefined;
}

/** The last point of one series. @since 0.1.0 */
export interface LastPoint {
  org: string;
  metric: string;
  tags: Record<string, string>;
  id: string;
  ts: number;
  value: number;
}

/** Options of {@link openTsdb}. @since 0.1.0 */
export interface TsdbOptions {
  /** Width of a chunk's time window (ms). @defaultValue 2 h */
  chunkWindowMs?: number | undefined;
  /** Width of a compaction/retention partition (ms); a multiple of `chunkWindowMs`. @defaultValue 24 h */
  partitionMs?: number | undefined;
  /** Head points at which `write` flushes the head to chunks. @defaultValue 1,000,000 */
  headMaxPoints?: number | undefined;
  /**
   * Engine WAL: settings, or `false` for none. With `false` there is no head log either: only data
   * persisted by a completed {@link Tsdb.flush} (or an automatic head flush) survives a crash.
   * @defaultValue `{ sync: 'always' }`
   */
  wal?: WalOptions | false | undefined;
  /** Data older than `now - retentionMs` is dropped by {@link Tsdb.applyRetention}. @defaultValue Infinity */
  retentionMs?: number | undefined;
  /** Compaction strategy. @defaultValue `timeWindowCompaction({ windowMs: partitionMs })` */
  compaction?: CompactionStrategy | undefined;
  /** Engine memtable size. @defaultValue 16 MiB */
  memtableBytes?: number | undefined;
  /** Series id function (tests inject collisions). @defaultValue xxhash64 of the canonical key */
  hash?: ((canonicalKey: string) => bigint) | undefined;
  /** Try the decimal-aware codec per chunk. @defaultValue true */
  decimalCodec?: boolean | undefined;
  /** Injectable clock (ms). @defaultValue Date.now */
  clock?: (() => number) | undefined;
  /** Aborts the open. @defaultValue undefined */
  signal?: AbortSignal | undefined;
}

/** A plain snapshot of counters. @since 0.1.0 */
export interface TsdbStats {
  closed: boolean;
  series: number;
  headPoints: number;
  pointsWritten: number;
  flushes: number;
  chunksWritten: number;
  chunkBytesWritten: number;
  chunksRead: number;
  seriesCollisions: number;
  /** The engine's stats (tables opened, pruned by time, dropped, ...). */
  db: DbStats;
}
