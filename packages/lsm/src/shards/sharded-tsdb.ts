import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createAdmissionController, type AdmissionController, type AdmissionGateOptions, type AdmissionStats } from '../admission/admission-controller.js';
import { LsmError } from '../errors.js';
import { estimateQueryCost } from '../sched/cost.js';
import { createQueryScheduler, type QueryScheduler, type QuerySchedulerOptions, type QuerySchedulerStats } from '../sched/query-scheduler.js';
import { checkPoint, decodePointBatchRaw, PointBatchBuilder } from './columnar.js';
import { checkQuery, mergeResults, type PointQuery, type SeriesResult } from './query.js';
import { hashSeriesKey, parseSeriesKey, seriesKey, shardFor, type Point } from '../tsdb/series.js';
import { ShardClient } from './shard-client.js';

const textDecoder = new TextDecoder();
import type { LogPosition, ShardStats } from './shard-host.js';

/** Options of {@link openShardedTsdb}. */
export interface ShardedTsdbOptions {
  /** Directory; shard `i` lives in `dir/shard-i`. */
  dir: string;
  /** Number of shards (worker threads). Fixed for the life of the directory. @defaultValue os.availableParallelism() */
  shards?: number | undefined;
  /** CoDel query scheduler of each shard. @defaultValue see createQueryScheduler */
  scheduler?: QuerySchedulerOptions | undefined;
  /** Refuse writes while more than this many write batches are in flight to one shard. @defaultValue 64 */
  maxInFlightWrites?: number | undefined;
  /** Extra admission gates (memory, level-0, log lag…), checked before every write and query. @defaultValue [] */
  gates?: readonly AdmissionGateOptions[] | undefined;
  /**
   * The storage of each shard: URL of a module, loaded in each worker, exporting
   * `openShardStore(dir: string): Promise<ShardStore>`. Its flush must make the points written so far and
   * the metadata it is given durable atomically. @defaultValue the built-in segment store
   */
  storeModule?: string | URL | undefined;
  /**
   * The built-in store of each shard when no `storeModule` is given: `'segment'` (points in memory, one
   * fsynced segment file per flush) or `'kv'` (the package's LSM engine with `wal: false`: memtable arena,
   * sorted tables, block cache and compaction per shard) or `'tsdb'` (the time-series layer, `openTsdb`
   * with `wal: false`: Gorilla chunks, tag index, time pruning). The two engine-backed stores are
   * experimental: the SIGKILL crash test once lost points with them on a heavily loaded machine.
   * @defaultValue 'segment'
   */
  store?: 'segment' | 'kv' | 'tsdb' | undefined;
}

/** Options of a write. */
export interface ShardedWriteOptions {
  /**
   * The log position the points come from (the offset of the last record they contain). A shard skips a
   * write whose position it already applied, and stores positions atomically with its flushes.
   */
  position?: LogPosition | undefined;
  /** Aborts before the write is sent. */
  signal?: AbortSignal | undefined;
}

/** A plain snapshot of a {@link ShardedTsdb}. */
export interface ShardedTsdbStats {
  shards: number;
  writes: number;
  points: number;
  queries: number;
  inFlight: number[];
  /** Each shard's CoDel query queue. */
  schedulers: QuerySchedulerStats[];
  admission: AdmissionStats;
}

/**
 * A time-series store spread over worker threads, one per shard, shared-nothing: each worker owns its
 * storage, memory and query queue. Points are routed by the hash of their series; queries fan out and
 * merge. Made by {@link openShardedTsdb}.
 *
 * @example
 * ```ts
 * import { openShardedTsdb } from '@dataplane/lsm';
 *
 * await using db = await openShardedTsdb({ dir: './data' });
 * await db.write([{ metric: 'cpu', tags: { host: 'a' }, t: Date.now(), v: 0.5 }]);
 * const series = await db.query({ metric: 'cpu', fromMs: 0, toMs: Date.now() + 1 });
 * console.log(series.length, db.stats().points);
 * ```
 * @since 0.1.0
 */
export class ShardedTsdb implements AsyncDisposable {
  private writes = 0;
  private points = 0;
  private queries = 0;
  private closed = false;
  private readonly builders: PointBatchBuilder[];
  private readonly shardOfKey = new Map<string, number>();
  /** Hashes of series already in the cost index (a collision only makes an estimate a little low). */
  private readonly knownHashes = new Set<number>();
  /** Per shard: metric -> series key -> tags. Feeds the query cost estimate. */
  private readonly index: Map<string, Map<string, Record<string, string>>>[];

  /** @internal */
  constructor(
    private readonly clients: ShardClient[],
    private readonly admission: AdmissionController,
    private readonly schedulers: QueryScheduler[],
  ) {
    this.builders = clients.map(() => new PointBatchBuilder(256));
    this.index = clients.map(() => new Map());
  }

  /** @internal Seeds the cost index with a series a shard already holds. */
  seed(shard: number, key: string): void {
    const hash = hashSeriesKey(key);
    if (this.knownHashes.has(hash)) return;
    this.knownHashes.add(hash);
    this.indexKey(shard, key);
  }

  /** @internal Records a series in the cost index of its shard. */
  indexKey(shard: number, key: string): void {
    const { metric, tags } = parseSeriesKey(key);
    let m = this.index[shard]!.get(metric);
    if (m === undefined) this.index[shard]!.set(metric, (m = new Map()));
    m.set(key, tags);
  }

  private matching(shard: number, q: PointQuery): number {
    const m = this.index[shard]!.get(q.metric);
    if (m === undefined) return 0;
    if (q.where === undefined) return m.size;
    let n = 0;
    outer: for (const tags of m.values()) {
      for (const k in q.where) if (tags[k] !== q.where[k]) continue outer;
      n++;
    }
    return n;
  }

  /** Number of shards. */
  get shards(): number {
    return this.clients.length;
  }

  private shardOf(key: string): number {
    let s = this.shardOfKey.get(key);
    if (s === undefined) {
      const hash = hashSeriesKey(key);
      s = shardFor(hash, this.clients.length);
      this.shardOfKey.set(key, s);
      if (!this.knownHashes.has(hash)) {
        this.knownHashes.add(hash);
        this.indexKey(s, key);
      }
    }
    return s;
  }

  private ensureOpen() {
    if (this.closed) throw new LsmError('LSM_CLOSED', 'sharded tsdb is closed');
  }

  /**
   * Writes points: split by series hash, each shard's part packed in columns and transferred.
   *
   * @param points - the points.
   * @param options - log position, signal.
   * @returns when every shard applied its part (not yet durable: see {@link ShardedTsdb.flush}).
   * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad point; `LSM_OVERLOADED` (retryable) when a gate is
   *   closed; `LSM_CLOSED`; `LSM_ABORTED`.
   * @example
   * ```ts
   * import { openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * await db.write([{ metric: 'cpu', tags: { host: 'a' }, t: Date.now(), v: 0.5 }]);
   * ```
   */
  async write(points: readonly Point[], options: ShardedWriteOptions = {}): Promise<void> {
    this.ensureOpen();
    if (!Array.isArray(points)) throw new LsmError('LSM_INVALID_ARGUMENT', 'points must be an array');
    for (const p of points) {
      checkPoint(p);
      const key = seriesKey(p.metric, p.tags);
      this.builders[this.shardOf(key)]!.add(key, p.t, p.v);
    }
    await this.send(points.length, options);
  }

  /**
   * Writes packed batches (from `encodePoints`, e.g. log records' values), re-split by shard into one
   * message per shard.
   *
   * @param batches - one packed batch or several.
   * @param options - log position (of the last batch), signal.
   * @throws LsmError `LSM_INVALID_ARGUMENT` when a batch is malformed (nothing is written); as
   *   {@link ShardedTsdb.write}.
   * @example
   * ```ts
   * import { encodePoints, openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * await db.writeBatch(encodePoints([{ metric: 'cpu', t: 1, v: 1 }]));
   * ```
   */
  async writeBatch(batches: ArrayBuffer | Uint8Array | readonly (ArrayBuffer | Uint8Array)[], options: ShardedWriteOptions = {}): Promise<void> {
    this.ensureOpen();
    const list = Array.isArray(batches) ? (batches as readonly (ArrayBuffer | Uint8Array)[]) : [batches as ArrayBuffer | Uint8Array];
    const decoded = list.map((b) => decodePointBatchRaw(b));
    let n = 0;
    for (const cols of decoded) {
      // Per series (not per point): its shard, from the hash the batch carries, and its index in that
      // shard's outgoing dictionary (key bytes copied, never decoded here unless new to the cost index).
      const shardOfLocal = new Uint32Array(cols.nKeys);
      const slotOfLocal = new Uint32Array(cols.nKeys);
      let start = 0;
      for (let k = 0; k < cols.nKeys; k++) {
        const end = cols.keyEnd[k]!;
        const hash = cols.keyHash[k]!;
        const s = shardFor(hash, this.clients.length);
        const bytes = cols.keyBytes.subarray(start, end);
        if (!this.knownHashes.has(hash)) {
          this.knownHashes.add(hash);
          this.indexKey(s, textDecoder.decode(bytes));
        }
        shardOfLocal[k] = s;
        slotOfLocal[k] = this.builders[s]!.appendKeyBytes(bytes, hash);
        start = end + 1;
      }
      const { idx, t, v } = cols;
      for (let i = 0; i < cols.length; i++) {
        const local = idx[i]!;
        this.builders[shardOfLocal[local]!]!.addIndexed(slotOfLocal[local]!, t[i]!, v[i]!);
      }
      n += cols.length;
    }
    await this.send(n, options);
  }

  private async send(n: number, options: ShardedWriteOptions): Promise<void> {
    const pos = options.position;
    try {
      if (options.signal?.aborted) throw new LsmError('LSM_ABORTED', 'write aborted', { cause: options.signal.reason });
      if (pos !== undefined && (!Number.isInteger(pos.partition) || pos.partition < 0 || typeof pos.offset !== 'bigint')) {
        throw new LsmError('LSM_INVALID_ARGUMENT', 'position must be { partition: integer >= 0, offset: bigint }');
      }
      this.admission.admit('write');
    } catch (err) {
      for (const b of this.builders) if (b.length > 0) b.finish();
      throw err;
    }
    const acks: Promise<unknown>[] = [];
    for (let s = 0; s < this.clients.length; s++) {
      const b = this.builders[s]!;
      // Shards without points still get the position, so every shard's applied offset advances.
      if (b.length === 0 && pos === undefined) continue;
      const buf = b.finish();
      acks.push(this.clients[s]!.request({ type: 'write', buf, pos }, [buf]));
    }
    await Promise.all(acks);
    this.writes++;
    this.points += n;
  }

  /**
   * Runs a query on every shard (each through its CoDel queue) and merges the series in key order.
   *
   * @param q - the query.
   * @param signal - aborts waiting for the answer.
   * @returns matching series.
   * @throws LsmError `LSM_INVALID_ARGUMENT`; `LSM_OVERLOADED` (retryable) when refused by admission control
   *   or shed by CoDel; `LSM_CLOSED`; `LSM_ABORTED`.
   * @example
   * ```ts
   * import { openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * const rows = await db.query({ metric: 'cpu', fromMs: 0, toMs: Date.now(), stepMs: 60_000, agg: 'avg' });
   * ```
   */
  async query(q: PointQuery, signal?: AbortSignal): Promise<SeriesResult[]> {
    this.ensureOpen();
    checkQuery(q);
    if (signal?.aborted) throw new LsmError('LSM_ABORTED', 'query aborted', { cause: signal.reason });
    this.admission.admit('query');
    this.queries++;
    // Each shard's query waits in that shard's CoDel queue (on this thread), then goes to the worker.
    const all = Promise.all(
      this.clients.map((c, s) => {
        const cost = estimateQueryCost({ series: this.matching(s, q), fromMs: q.fromMs, toMs: q.toMs, stepMs: q.stepMs });
        return this.schedulers[s]!.run(cost, () => c.request<SeriesResult[]>({ type: 'query', q }), signal);
      }),
    );
    if (signal === undefined) return mergeResults(await all);
    return mergeResults(
      await new Promise<SeriesResult[][]>((resolve, reject) => {
        const onAbort = () => reject(new LsmError('LSM_ABORTED', 'query aborted', { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        all.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      }),
    );
  }

  /**
   * Makes every shard's applied points durable, each atomically with its applied log offsets.
   *
   * @throws LsmError `LSM_IO` when a shard's flush fails; `LSM_CLOSED`.
   * @example
   * ```ts
   * import { openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * await db.flush();
   * ```
   */
  async flush(): Promise<void> {
    this.ensureOpen();
    await Promise.all(this.clients.map((c) => c.request({ type: 'flush' })));
  }

  /**
   * The log offsets each shard has applied, per partition.
   *
   * @param durable - only what the last flush made durable. @defaultValue false
   * @returns one map per shard.
   * @example
   * ```ts
   * import { openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * const perShard = await db.offsets(true);
   * ```
   */
  async offsets(durable = false): Promise<Map<number, bigint>[]> {
    this.ensureOpen();
    return Promise.all(this.clients.map((c) => c.request<Map<number, bigint>>({ type: 'offsets', durable })));
  }

  /**
   * Counters of every shard worker (points, series, flushes, scheduler state).
   *
   * @example
   * ```ts
   * import { openShardedTsdb } from '@dataplane/lsm';
   *
   * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
   * console.log((await db.shardStats()).map((s) => s.points));
   * ```
   */
  async shardStats(): Promise<ShardStats[]> {
    this.ensureOpen();
    return Promise.all(this.clients.map((c) => c.request<ShardStats>({ type: 'stats' })));
  }

  /** A plain snapshot of the main-thread counters and admission gates. */
  stats(): ShardedTsdbStats {
    return {
      shards: this.clients.length,
      writes: this.writes,
      points: this.points,
      queries: this.queries,
      inFlight: this.clients.map((c) => c.inFlight),
      schedulers: this.schedulers.map((x) => x.stats()),
      admission: this.admission.stats(),
    };
  }

  /** Stops the workers (unflushed points are dropped: flush first). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const x of this.schedulers) x.close();
    await Promise.all(
      this.clients.map(async (c) => {
        await c.request({ type: 'close' }).catch(() => undefined);
        await c.terminate();
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Opens a sharded time-series store: one worker thread per shard, each owning `dir/shard-i`.
 *
 * @remarks
 * Shared-nothing: no lock or memory is shared between shards; ingest is split by series hash and each
 * shard's part is sent as one transferred `ArrayBuffer` (columnar), queries fan out to all shards and
 * their results (transferred back) are merged. Admission control refuses writes and queries with a
 * retryable `LSM_OVERLOADED` while a shard has too many writes in flight or a configured gate is closed.
 *
 * @param options - directory, shard count, scheduler, admission.
 * @returns the opened store.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for bad options; `LSM_IO` or `LSM_CORRUPT_BLOCK` when a shard
 *   cannot open its directory.
 * @example
 * ```ts
 * import { openShardedTsdb } from '@dataplane/lsm';
 *
 * await using db = await openShardedTsdb({ dir: './data', shards: 2 });
 * await db.write([{ metric: 'cpu', tags: { host: 'a' }, t: Date.now(), v: 0.5 }]);
 * await db.flush();
 * ```
 * @since 0.1.0
 */
export async function openShardedTsdb(options: ShardedTsdbOptions): Promise<ShardedTsdb> {
  if (options == null || typeof options.dir !== 'string' || options.dir === '') throw new LsmError('LSM_INVALID_ARGUMENT', 'dir must be a non-empty string');
  const shards = options.shards ?? availableParallelism();
  if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw new LsmError('LSM_INVALID_ARGUMENT', 'shards must be an integer in 1..256');
  const maxInFlight = options.maxInFlightWrites ?? 64;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new LsmError('LSM_INVALID_ARGUMENT', 'maxInFlightWrites must be a positive integer');
  const storeModule = options.storeModule === undefined ? undefined : String(options.storeModule);
  const store = options.store ?? 'segment';
  if (store !== 'segment' && store !== 'kv' && store !== 'tsdb') throw new LsmError('LSM_INVALID_ARGUMENT', `store must be 'segment', 'kv' or 'tsdb'`);
  const clients = Array.from({ length: shards }, (_, i) => new ShardClient({ dir: join(options.dir, `shard-${i}`), shard: i, storeModule, store }));
  const schedulers = clients.map(() => createQueryScheduler(options.scheduler));
  const admission = createAdmissionController({
    sampleMs: 0,
    gates: [
      { name: 'writeBacklog', limit: maxInFlight, resumeAt: maxInFlight, read: () => Math.max(...clients.map((c) => c.inFlight)), appliesTo: ['write'] },
      ...(options.gates ?? []),
    ],
  });
  const db = new ShardedTsdb(clients, admission, schedulers);
  try {
    // waits until every shard opened its store (or failed to), and seeds the cost index
    const keys = await Promise.all(clients.map((c) => c.request<string[]>({ type: 'keys' })));
    keys.forEach((ks, s) => ks.forEach((k) => db.seed(s, k)));
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
