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
