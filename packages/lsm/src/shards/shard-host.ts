import { LsmError } from '../errors.js';
import { decodePointBatch } from './columnar.js';
import { checkQuery, type PointQuery, type SeriesResult } from './query.js';
import { openKvShardStore } from './kv-store.js';
import { openTsdbShardStore } from './tsdb-store.js';
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
  /**
   * URL of a module exporting `openShardStore(dir: string): Promise<ShardStore>`, loaded inside the worker.
   * @defaultValue the built-in segment store
   */
  storeModule?: string | undefined;
  /** Built-in store when no storeModule: `'segment'` or `'kv'` (the package's engine). @defaultValue 'segment' */
  store?: 'segment' | 'kv' | 'tsdb' | undefined;
}

/** Counters of one shard. */
export interface ShardStats extends ShardStoreStats {
  shard: number;
  writes: number;
  skippedWrites: number;
  queries: number;
}

const OFFSET_PREFIX = 'log.offset.';

async function openCustomStore(url: string, dir: string): Promise<ShardStore> {
  let mod: { openShardStore?: (dir: string) => Promise<ShardStore> };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (err) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `storeModule ${url} cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  if (typeof mod.openShardStore !== 'function') throw new LsmError('LSM_INVALID_ARGUMENT', `storeModule ${url} does not export openShardStore(dir)`);
  return mod.openShardStore(dir);
}

/**
 * One shard: its store and the log offsets it has applied. Runs inside a worker thread. Its CoDel query
 * queue lives on the main thread (a worker sees its messages one at a time, in order, so a queue inside it
 * could not let a light query overtake heavy ones already sent).
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
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly shard: number,
    private readonly store: ShardStore,
    private readonly applied: Map<number, bigint>,
  ) {}

  static async open(opts: ShardHostOptions): Promise<ShardHost> {
    const store =
      opts.storeModule !== undefined
        ? await openCustomStore(opts.storeModule, opts.dir)
        : opts.store === 'kv'
          ? await openKvShardStore(opts.dir)
          : opts.store === 'tsdb'
            ? await openTsdbShardStore(opts.dir)
            : await openSegmentStore(opts.dir);
    const applied = new Map<number, bigint>();
    for (const [k, v] of store.meta()) {
      if (k.startsWith(OFFSET_PREFIX)) applied.set(Number(k.slice(OFFSET_PREFIX.length)), BigInt(v));
    }
    return new ShardHost(opts.shard, store, applied);
  }

  /**
   * Applies a packed batch unless its position was already applied. Returns whether it was applied.
   * Store operations run one at a time, in message order.
   */
  write(buf: ArrayBuffer, pos: LogPosition | undefined): Promise<boolean> {
    return this.serial(async () => {
      this.ensureOpen();
      if (pos !== undefined) {
        const at = this.applied.get(pos.partition);
        if (at !== undefined && pos.offset <= at) {
          this.skipped++;
          return false;
        }
      }
      const cols = decodePointBatch(buf);
      const meta = new Map<string, string>();
      if (pos !== undefined) meta.set(`${OFFSET_PREFIX}${pos.partition}`, pos.offset.toString());
      if (cols.length > 0 || meta.size > 0) await this.store.write(cols, new Uint8Array(buf), meta);
      if (pos !== undefined) this.applied.set(pos.partition, pos.offset);
      this.writes++;
      return true;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs a query (after the writes sent before it). */
  query(q: PointQuery): Promise<SeriesResult[]> {
    return this.serial(async () => {
      this.ensureOpen();
      checkQuery(q);
      this.queries++;
      return this.store.query(q);
    });
  }

  /** Every series key this shard holds (for the main thread's cost estimates). */
  keys(): string[] {
    this.ensureOpen();
    return this.store.keys();
  }

  /** Makes applied data and offsets durable together. */
  flush(): Promise<void> {
    return this.serial(async () => {
      this.ensureOpen();
      const meta = new Map<string, string>();
      for (const [p, o] of this.applied) meta.set(`${OFFSET_PREFIX}${p}`, o.toString());
      await this.store.flush(meta);
    });
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
    };
  }

  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.store.close();
    });
  }

  private ensureOpen() {
    if (this.closed) throw new LsmError('LSM_CLOSED', `shard ${this.shard} is closed`);
  }
}
