import { LsmError } from '../errors.js';
import { createQueryScheduler, type QueryScheduler, type QuerySchedulerOptions } from '../sched/query-scheduler.js';
import { estimateQueryCost } from '../sched/cost.js';
import { decodePointBatch } from './columnar.js';
import { checkQuery, type PointQuery, type SeriesResult } from './query.js';
import { openSegmentStore, type ShardStore, type ShardStoreStats } from './segment-store.js';

/** Position in a log of the data a write carries: the offset of the last record it contains. */
export interface LogPosition {
  partition: number;
  offset: bigint;
}

/** Options of one shard. */
export interface ShardHostOptions {
  dir: string;
  shard: number;
  scheduler?: QuerySchedulerOptions | undefined;
}

/** Counters of one shard. */
export interface ShardStats extends ShardStoreStats {
  shard: number;
  writes: number;
  skippedWrites: number;
  queries: number;
  scheduler: ReturnType<QueryScheduler['stats']>;
}

const OFFSET_PREFIX = 'log.offset.';

/**
 * One shard: its store, its CoDel query queue, and the log offsets it has applied. Runs inside a worker
 * thread (or in-process for tests).
 *
 * @remarks
 * Exactly-once with a log: a write tagged with a {@link LogPosition} at or below the shard's applied offset
 * of that partition is skipped; a flush stores the applied offsets in the same atomic flush as the data.
 * After a crash, data and offsets come back together from the last flush.
 *
 * @internal
 */
export class ShardHost {
  private writes = 0;
  private skipped = 0;
  private queries = 0;
  private closed = false;

  private constructor(
    readonly shard: number,
    private readonly store: ShardStore,
    private readonly sched: QueryScheduler,
    private readonly applied: Map<number, bigint>,
  ) {}

  static async open(opts: ShardHostOptions): Promise<ShardHost> {
    const store = await openSegmentStore(opts.dir);
    const applied = new Map<number, bigint>();
    for (const [k, v] of store.meta()) {
      if (k.startsWith(OFFSET_PREFIX)) applied.set(Number(k.slice(OFFSET_PREFIX.length)), BigInt(v));
    }
    return new ShardHost(opts.shard, store, createQueryScheduler(opts.scheduler), applied);
  }

  /** Applies a packed batch unless its position was already applied. Returns whether it was applied. */
  write(buf: ArrayBuffer, pos: LogPosition | undefined): boolean {
    this.ensureOpen();
    if (pos !== undefined) {
      const at = this.applied.get(pos.partition);
      if (at !== undefined && pos.offset <= at) {
        this.skipped++;
        return false;
      }
    }
    const cols = decodePointBatch(buf);
    if (cols.length > 0) this.store.write(cols, new Uint8Array(buf));
    if (pos !== undefined) this.applied.set(pos.partition, pos.offset);
    this.writes++;
    return true;
  }

  /** Runs a query through the shard's CoDel queue. */
  query(q: PointQuery): Promise<SeriesResult[]> {
    this.ensureOpen();
    checkQuery(q);
    this.queries++;
    const cost = estimateQueryCost({ series: this.store.matchCount(q), fromMs: q.fromMs, toMs: q.toMs, stepMs: q.stepMs });
    return this.sched.run(cost, () => this.store.query(q));
  }

  /** Makes applied data and offsets durable together. */
  async flush(): Promise<void> {
    this.ensureOpen();
    const meta = new Map<string, string>();
    for (const [p, o] of this.applied) meta.set(`${OFFSET_PREFIX}${p}`, o.toString());
    await this.store.flush(meta);
  }

  /** Applied offsets per partition (durable or not yet). */
  offsets(): Map<number, bigint> {
    return new Map(this.applied);
  }

  /** Offsets as of the last durable flush. */
  durableOffsets(): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (const [k, v] of this.store.meta()) if (k.startsWith(OFFSET_PREFIX)) out.set(Number(k.slice(OFFSET_PREFIX.length)), BigInt(v));
    return out;
  }

  stats(): ShardStats {
    return {
      shard: this.shard,
      ...this.store.stats(),
      writes: this.writes,
      skippedWrites: this.skipped,
      queries: this.queries,
      scheduler: this.sched.stats(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sched.close();
    await this.store.close();
  }

  private ensureOpen() {
    if (this.closed) throw new LsmError('LSM_CLOSED', `shard ${this.shard} is closed`);
  }
}
