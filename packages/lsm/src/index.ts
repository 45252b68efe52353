/**
 * An LSM storage engine with an arena-allocated memtable and a time-series layer (Gorilla chunks, tag index, time pruning), shard-per-core workers and a partitioned log as write-ahead log.
 *
 * @packageDocumentation
 */
export { LsmError } from './errors.js';
export type { LsmErrorCode, LsmErrorOptions } from './errors.js';
export { createMemoryLog } from './log/memory-log.js';
export type { MemoryLogOptions } from './log/memory-log.js';
export type { LogSource, LogBatch, LogRecord, ConsumeOptions, LogSourceStats } from './log/log-source.js';
export { createAdmissionController } from './admission/admission-controller.js';
export type {
  AdmissionController,
  AdmissionControllerOptions,
  AdmissionGateOptions,
  AdmissionGateStats,
  AdmissionKind,
  AdmissionStats,
} from './admission/admission-controller.js';
export { memoryGate, logLagGate, level0Gate, walLagGate } from './admission/gates.js';
export type { LogLagProbe, LevelsSnapshot, WalSnapshot } from './admission/gates.js';
export { createQueryScheduler } from './sched/query-scheduler.js';
export type { QueryScheduler, QuerySchedulerOptions, QuerySchedulerStats, OverloadMode } from './sched/query-scheduler.js';
export { estimateQueryCost } from './sched/cost.js';
export type { QueryCostInput } from './sched/cost.js';
export { openShardedTsdb, ShardedTsdb } from './shards/sharded-tsdb.js';
export type { ShardedTsdbOptions, ShardedWriteOptions, ShardedTsdbStats } from './shards/sharded-tsdb.js';
export type { LogPosition, ShardStats } from './shards/shard-host.js';
export type { ShardStore, ShardStoreStats } from './shards/segment-store.js';
export { seriesKey, parseSeriesKey, hashSeriesKey, partitionFor } from './tsdb/series.js';
export type { Point } from './tsdb/series.js';
export { PointBatchBuilder, decodePointBatch, encodePoints } from './shards/columnar.js';
export type { PointColumns } from './shards/columnar.js';
export type { PointQuery, SeriesResult, Aggregation } from './shards/query.js';
export { createLogNode } from './log/log-node.js';
export type { LogNode, LogNodeOptions, LogNodeStats, LogNodePartitionStats, LogNodeStore } from './log/log-node.js';
export { createQueryRouter } from './log/query-router.js';
export type { QueryRouter, QueryRouterOptions, RouterNode, RouteOptions } from './log/query-router.js';
export { assignPartitions, checkAssignment } from './log/assignment.js';
export type {
  Bytes,
  WalOptions,
  DbOptions,
  Snapshot,
  IteratorOptions,
  GetOptions,
  BatchOp,
  WriteBatch,
  LevelStats,
  DbStats,
  TableInfo,
  VersionView,
  CompactionJob,
  CompactionStrategy,
  Db,
} from './kv/types.js';
export { openDb } from './kv/db.js';
export { leveledCompaction } from './kv/leveled.js';
export type { LeveledCompactionOptions } from './kv/leveled.js';
export { bytesOf, textOf } from './kv/text.js';
export { openTsdb, Tsdb } from './tsdb/tsdb.js';
export type {
  TsdbOptions,
  TsdbPoint,
  SeriesRef,
  ColumnarBatch,
  TsdbWriteOptions,
  Matcher,
  TsdbAggregation,
  TopK,
  ValueFilter,
  TsdbQuery,
  TsdbSeries,
  SeriesSelector,
  LastPoint,
  TsdbStats,
  Tags,
} from './tsdb/types.js';
export { timeWindowCompaction } from './tsdb/time-window-compaction.js';
export type { TimeWindowCompactionOptions } from './tsdb/time-window-compaction.js';
export { encodeChunk, decodeChunk } from './tsdb/chunk.js';
export type { ChunkEncodeOptions, DecodedChunk } from './tsdb/chunk.js';
export { MAX_TIMESTAMP } from './tsdb/gorilla.js';
export { xxhash64 } from './tsdb/xxhash64.js';
export { canonicalSeriesKey } from './tsdb/series.js';
export { generateTsbsCpuOnly, tsbsHosts, TSBS_CPU_FIELDS } from './tsdb/tsbs.js';
export type { TsbsOptions } from './tsdb/tsbs.js';
