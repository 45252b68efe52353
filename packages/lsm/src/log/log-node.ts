import { LsmError } from '../errors.js';
import { decodePointBatchRaw } from '../shards/columnar.js';
import type { PointQuery, SeriesResult } from '../shards/query.js';
import type { LogPosition } from '../shards/shard-host.js';
import type { LogRecord, LogSource } from './log-source.js';
import { positiveInt, sleep } from './validate.js';

/**
 * What a {@link LogNode} needs from its store (a `ShardedTsdb` fits): writes tagged with a log position
 * that the store skips when already applied, and a flush that stores positions atomically with data.
 *
 * @since 0.1.0
 */
export interface LogNodeStore {
  writeBatch(batches: readonly Uint8Array[], options: { position: LogPosition; signal?: AbortSignal | undefined }): Promise<void>;
  flush(): Promise<void>;
  /** Per shard (or one entry for an unsharded store): durable offsets by partition. */
  offsets(durable: boolean): Promise<readonly ReadonlyMap<number, bigint>[]>;
  query(q: PointQuery, signal?: AbortSignal): Promise<SeriesResult[]>;
}

/** Options of {@link createLogNode}. */
export interface LogNodeOptions {
  /** The log to consume. */
  log: LogSource;
  /** Partitions this node owns (see `assignPartitions`). */
  partitions: readonly number[];
  /** Where points are applied. The node does not close it. */
  store: LogNodeStore;
  /** Flush period: the most data a crash makes the node re-read. @defaultValue 1000 */
  flushEveryMs?: number | undefined;
  /** Records per read. @defaultValue 500 */
  maxBatch?: number | undefined;
  /** Log read poll period. @defaultValue 500 */
  pollMs?: number | undefined;
  /** Called for a record that is not a valid point batch (it is skipped, its offset still counts). */
  onBadRecord?: ((partition: number, record: LogRecord, error: unknown) => void) | undefined;
  /** Called once if the node stops on an error it cannot retry. */
  onError?: ((error: unknown) => void) | undefined;
}

/** Per-partition counters of a {@link LogNode}. */
export interface LogNodePartitionStats {
  /** Offset of the last record applied (not necessarily durable). */
  applied: string | undefined;
  /** Offset this node resumed after at start. */
  resumedAfter: string | undefined;
  records: number;
  replayedRecords: number;
  badRecords: number;
}

/** A plain snapshot of a {@link LogNode}. */
export interface LogNodeStats {
  running: boolean;
  flushes: number;
  overloadedRetries: number;
  error: string | undefined;
  partitions: Record<number, LogNodePartitionStats>;
}

/**
 * A node of a log-as-WAL deployment: it consumes its partitions, applies them to its store, and flushes
 * periodically, each flush storing every shard's applied offsets atomically with its data.
 *
 * @remarks
 * On start it reads the durable offsets of every shard and resumes each partition after the smallest;
 * records up to the largest are re-sent one by one so that each shard skips exactly what it already has.
 * Nothing is lost (a record's offset is durable only with its data) and nothing is applied twice (a
 * shard skips positions at or below its own). The engine's own WAL is not needed in this mode.
 *
 * @since 0.1.0
 */
export interface LogNode extends AsyncDisposable {
  /**
   * Resumes from the stored offsets and starts consuming. Idempotent.
   *
   * @param signal - aborting it stops the node (as close() without the final flush).
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Flushes now. */
  flush(): Promise<void>;
  /**
   * How far each partition's applied offset is behind the log's end, in offset units: records for the
   * memory log, stream sequences for JetStream (records of all partitions interleave, so an upper bound),
   * and for Redis Streams `(ms << 22) + seq` distances (`Number(lag >> 22n)` is milliseconds behind).
   */
  lag(signal?: AbortSignal): Promise<Map<number, bigint>>;
  /** Queries the node's store. */
  query(q: PointQuery, signal?: AbortSignal): Promise<SeriesResult[]>;
  /** Stops consuming and, unless `flush: false`, flushes what was applied. Idempotent. */
  close(options?: { flush?: boolean }): Promise<void>;
  stats(): LogNodeStats;
  /** The partitions this node owns. */
  readonly partitions: readonly number[];
}

/**
 * Creates a {@link LogNode}.
 *
 * @param options - log, owned partitions, store, flush period.
 * @returns the node (call start()).
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a partition out of range or a bad option.
 * @example
 * ```ts
 * import { createLogNode, createMemoryLog, openShardedTsdb, encodePoints } from '@dataplane/lsm';
 *
 * const log = createMemoryLog({ partitions: 2 });
 * await log.produce(0, [encodePoints([{ metric: 'cpu', t: 1, v: 1 }])]);
 * await using store = await openShardedTsdb({ dir: './node-0', shards: 2 });
 * await using node = createLogNode({ log, partitions: [0, 1], store });
 * await node.start();
 * ```
 * @since 0.1.0
 */
export function createLogNode(options: LogNodeOptions): LogNode {
  const { log, store } = options;
  if (log == null || store == null) throw new LsmError('LSM_INVALID_ARGUMENT', 'log and store are required');
  const partitions = [...options.partitions];
  if (partitions.length === 0 || new Set(partitions).size !== partitions.length) {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'partitions must be a non-empty list without duplicates');
  }
  for (const p of partitions) {
    if (!Number.isInteger(p) || p < 0 || p >= log.partitions) throw new LsmError('LSM_INVALID_ARGUMENT', `partition ${p} is not in 0..${log.partitions - 1}`);
  }
  const flushEveryMs = positiveInt('flushEveryMs', options.flushEveryMs, 1000);
  const maxBatch = positiveInt('maxBatch', options.maxBatch, 500);
  const pollMs = positiveInt('pollMs', options.pollMs, 500);
  const ac = new AbortController();
  const pstats = new Map<number, LogNodePartitionStats>();
  const applied = new Map<number, bigint>();
  let flushes = 0;
  let retries = 0;
  let error: unknown;
  let started: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let loops: Promise<void>[] = [];
  let flushChain: Promise<void> = Promise.resolve();

  function fail(err: unknown) {
    if (error !== undefined || ac.signal.aborted) return;
    error = err;
    ac.abort();
    options.onError?.(err);
  }

  async function write(p: number, records: readonly LogRecord[], offset: bigint) {
    const st = pstats.get(p)!;
    const good: Uint8Array[] = [];
    for (const r of records) {
      try {
        decodePointBatchRaw(r.value);
        good.push(r.value);
      } catch (err) {
        st.badRecords++;
        options.onBadRecord?.(p, r, err);
      }
    }
    for (;;) {
      try {
        await store.writeBatch(good, { position: { partition: p, offset } });
        return;
      } catch (err) {
        if (!LsmError.is(err, 'LSM_OVERLOADED') || ac.signal.aborted) throw err;
        retries++;
        await sleep(err.retryAfterMs ?? 50, ac.signal);
      }
    }
  }

  async function run(p: number, after: bigint | undefined, replayUntil: bigint | undefined) {
    const st = pstats.get(p)!;
    for await (const batch of log.consume(p, { after, maxBatch, pollMs, signal: ac.signal })) {
      const recs = batch.records;
      let i = 0;
      // Replay zone: shards flushed at different points; one record per write lets each shard decide.
      while (i < recs.length && replayUntil !== undefined && recs[i]!.offset <= replayUntil) {
        await write(p, [recs[i]!], recs[i]!.offset);
        st.replayedRecords++;
        i++;
      }
      if (i < recs.length) await write(p, i === 0 ? recs : recs.slice(i), recs[recs.length - 1]!.offset);
      const last = recs[recs.length - 1]!.offset;
      applied.set(p, last);
      st.applied = last.toString();
      st.records += recs.length;
    }
  }

  async function flushLoop() {
    while (!ac.signal.aborted) {
      await sleep(flushEveryMs, ac.signal);
      if (ac.signal.aborted) return;
      await doFlush();
    }
  }

  function doFlush(): Promise<void> {
    flushChain = flushChain.then(async () => {
      await store.flush();
      flushes++;
    });
    return flushChain;
  }

  const node: LogNode = {
    partitions,
    start(signal) {
      if (signal !== undefined && started === undefined) {
        if (signal.aborted) return Promise.reject(new LsmError('LSM_ABORTED', 'start aborted', { cause: signal.reason }));
        signal.addEventListener('abort', () => void node.close({ flush: false }), { once: true });
      }
      started ??= (async () => {
        await log.start();
        const perShard = await store.offsets(true);
        for (const p of partitions) {
          const vals = perShard.map((m) => m.get(p));
          const known = vals.filter((v): v is bigint => v !== undefined);
          const after = known.length === vals.length && known.length > 0 ? known.reduce((a, b) => (a < b ? a : b)) : undefined;
          const replayUntil = known.length > 0 ? known.reduce((a, b) => (a > b ? a : b)) : undefined;
          pstats.set(p, {
            applied: after?.toString(),
            resumedAfter: after?.toString(),
            records: 0,
            replayedRecords: 0,
            badRecords: 0,
          });
          loops.push(run(p, after, replayUntil === after ? undefined : replayUntil).catch(fail));
        }
        loops.push(flushLoop().catch(fail));
      })();
      return started;
    },
    flush() {
      return doFlush();
    },
    async lag(signal) {
      const out = new Map<number, bigint>();
      for (const p of partitions) {
        const end = await log.endOffset(p, signal);
        const at = applied.get(p) ?? (pstats.get(p)?.resumedAfter !== undefined ? BigInt(pstats.get(p)!.resumedAfter!) : 0n);
        out.set(p, end === undefined || end <= at ? 0n : end - at);
      }
      return out;
    },
    query(q, signal) {
      return store.query(q, signal);
    },
    close(opts = {}) {
      closing ??= (async () => {
        ac.abort();
        await started?.catch(() => undefined);
        await Promise.all(loops);
        loops = [];
        await flushChain.catch(() => undefined);
        if (opts.flush !== false && error === undefined && started !== undefined) await doFlush();
      })();
      return closing;
    },
    stats() {
      return {
        running: started !== undefined && !ac.signal.aborted,
        flushes,
        overloadedRetries: retries,
        error: error === undefined ? undefined : String((error as Error)?.message ?? error),
        partitions: Object.fromEntries([...pstats].map(([p, s]) => [p, { ...s }])),
      };
    },
    async [Symbol.asyncDispose]() {
      await node.close();
    },
  };
  return node;
}
