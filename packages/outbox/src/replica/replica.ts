import { OutboxError } from '../errors.js';
import type { ChangeEvent, Row } from '../cdc/change-event.js';
import { parseLsn, type Lsn } from '../cdc/lsn.js';

/**
 * The total order of changes: commit LSN, then position inside the transaction. Snapshot reads carry the slot's
 * start point, which is below every streamed change.
 */
export interface ReplicaVersion {
  lsn: bigint;
  seq: number;
}

/** One row operation a replica store applies: an upsert (`row`) or a delete (`row: null`), guarded by version. */
export interface ReplicaWrite {
  /** The primary key values, in key column order, encoded as a JSON array string. */
  key: string;
  row: Row | null;
  version: ReplicaVersion;
}

/**
 * The port a replica stores its rows through (the consumer's own database). Implementations must apply a batch
 * atomically, keep for each key the write with the highest version only (so redelivered or reordered events are
 * harmless), keep deletes as tombstones with their version, and ignore writes at or below a truncate version.
 */
export interface ReplicaStore {
  /** Creates the replica's tables if needed. Idempotent. */
  init(): Promise<void>;
  /** Applies writes atomically; `truncate` (if given) first marks everything at or below it deleted. */
  apply(writes: readonly ReplicaWrite[], truncate?: ReplicaVersion): Promise<void>;
  /** The live row for a key, or undefined. */
  get(key: string): Promise<Row | undefined>;
  /** All live rows. */
  all(): Promise<Row[]>;
  /** Number of live rows. */
  count(): Promise<number>;
  /** The highest version applied so far (persisted with the rows), or undefined when empty. */
  position(): Promise<ReplicaVersion | undefined>;
  close?(): Promise<void>;
}

/** Options of {@link createReplica}. */
export interface ReplicaOptions {
  /** Where the rows live: `createMemoryReplicaStore()`, or a SQL store from an adapter. */
  store: ReplicaStore;
  /** The source table this replica follows, as `schema.table` (changes of other tables are ignored). */
  table: string;
  /**
   * Primary key columns. When omitted, each change's own `key` (from the stream) is used.
   */
  key?: readonly string[] | undefined;
  /** Keep only these columns of each row (new columns of the source are then ignored). Default: all columns. */
  columns?: readonly string[] | undefined;
  /** Clock for the lag figure. @defaultValue Date.now */
  clock?: (() => number) | undefined;
}

/** A snapshot of a replica's progress. */
export interface ReplicaStats {
  changesApplied: number;
  changesIgnored: number;
  batches: number;
  /** Commit LSN of the newest change applied. */
  lsn: Lsn | undefined;
  /** Milliseconds between the newest applied change's commit and now (0 when nothing applied yet). */
  lagMs: number;
}

/**
 * A read model of another service's table, kept current from its change events: initial snapshot rows (`r`),
 * then inserts, updates, deletes and truncates, applied idempotently by primary key and version.
 *
 * @remarks
 * Guarantees: applying the same change twice, or an older change after a newer one, leaves the replica as if each
 * change had been applied once in commit order; so it can be fed from at-least-once transports without an inbox.
 * New source columns appear in the rows as they arrive (rows are stored whole) unless `columns` restricts them.
 * The replica keeps serving reads when the owner or the transport is down; {@link Replica.stats} tells how stale.
 *
 * @example
 * ```ts
 * import { createMemoryReplicaStore, createReplica } from '@dataplane/outbox';
 *
 * const replica = createReplica({ store: createMemoryReplicaStore(), table: 'public.customers', key: ['id'] });
 * await replica.start();
 * await replica.apply([{ op: 'c', before: null, after: { id: 1, name: 'Ada' }, key: ['id'],
 *   source: { lsn: '0/1', txid: 1, schema: 'public', table: 'customers', ts: Date.now(), seq: 0 } }]);
 * await replica.get({ id: 1 }); // { id: 1, name: 'Ada' }
 * ```
 * @since 0.1.0
 */
export class Replica {
  readonly #store: ReplicaStore;
  readonly #schema: string;
  readonly #table: string;
  readonly #key: readonly string[] | undefined;
  readonly #columns: readonly string[] | undefined;
  readonly #clock: () => number;
  #started: Promise<void> | undefined;
  #applied = 0;
  #ignored = 0;
  #batches = 0;
  #lsn: Lsn | undefined;
  #ts = 0;

  constructor(options: ReplicaOptions) {
    if (!options?.store) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'replica needs a store');
    const parts = String(options.table ?? '').split('.');
    if (parts.length > 2 || parts.some((p) => p.length === 0)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `not a table name: ${JSON.stringify(options.table)}`);
    [this.#schema, this.#table] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['public', parts[0]!];
    if (options.key && options.key.length === 0) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', 'key needs at least one column');
    this.#store = options.store;
    this.#key = options.key;
    this.#columns = options.columns;
    this.#clock = options.clock ?? Date.now;
  }

  /** Prepares the store. Idempotent. */
  start(): Promise<void> {
    this.#started ??= this.#store.init();
    return this.#started;
  }

  /**
   * Applies a batch of change events (any tables; only this replica's table is used) atomically.
   *
   * @throws {@link OutboxError} `OUTBOX_INVALID_EVENT` when a change lacks its key columns.
   */
  async apply(changes: readonly ChangeEvent[]): Promise<void> {
    await this.start();
    const writes: ReplicaWrite[] = [];
    let truncate: ReplicaVersion | undefined;
    let newest: ChangeEvent | undefined;
    for (const c of changes) {
      if (c.source.table !== this.#table || c.source.schema !== this.#schema) {
        this.#ignored++;
        continue;
      }
      const version = { lsn: parseLsn(c.source.lsn), seq: c.source.seq };
      newest = c;
      if (c.op === 't') {
        // the store drops every write at or below the newest truncate, whatever the delivery order
        if (!truncate || compareVersions(version, truncate) > 0) truncate = version;
        continue;
      }
      const image = c.op === 'd' ? c.before : c.after;
      if (!image) throw new OutboxError('OUTBOX_INVALID_EVENT', `change ${c.op} on ${this.#schema}.${this.#table} has no row image (check REPLICA IDENTITY)`);
      const keyCols = this.#key ?? c.key;
      const keyValues = keyCols.map((k) => {
        if (!(k in image)) throw new OutboxError('OUTBOX_INVALID_EVENT', `change on ${this.#schema}.${this.#table} lacks key column ${k}`);
        return image[k];
      });
      writes.push({ key: JSON.stringify(keyValues), row: c.op === 'd' ? null : this.#project(image), version });
    }
    if (writes.length === 0 && !truncate) return;
    await this.#store.apply(writes, truncate);
    this.#applied += writes.length + (truncate ? 1 : 0);
    this.#batches++;
    if (newest) {
      this.#lsn = newest.source.lsn;
      this.#ts = newest.source.ts;
    }
  }

  #project(row: Row): Row {
    if (!this.#columns) return row;
    const out: Row = {};
    for (const c of this.#columns) if (c in row) out[c] = row[c];
    return out;
  }

  /** The row with the given primary key values (`{ id: 1 }`), or undefined. */
  async get(key: Readonly<Record<string, unknown>>): Promise<Row | undefined> {
    const cols = this.#key ?? Object.keys(key);
    return this.#store.get(JSON.stringify(cols.map((c) => key[c])));
  }

  /** Every live row. */
  all(): Promise<Row[]> {
    return this.#store.all();
  }

  /** Number of live rows. */
  count(): Promise<number> {
    return this.#store.count();
  }

  /** Progress and staleness. */
  stats(): ReplicaStats {
    return {
      changesApplied: this.#applied,
      changesIgnored: this.#ignored,
      batches: this.#batches,
      lsn: this.#lsn,
      lagMs: this.#ts === 0 ? 0 : Math.max(0, this.#clock() - this.#ts),
    };
  }

  /** Closes the store if it has a close(). Idempotent. */
  async close(): Promise<void> {
    await this.#store.close?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a {@link Replica}.
 *
 * @example
 * ```ts
 * import { createMemoryReplicaStore, createReplica } from '@dataplane/outbox';
 *
 * const replica = createReplica({ store: createMemoryReplicaStore(), table: 'customers' });
 * await replica.start();
 * ```
 * @since 0.1.0
 */
export function createReplica(options: ReplicaOptions): Replica {
  return new Replica(options);
}

/** Compares two versions: negative when a is older. */
export function compareVersions(a: ReplicaVersion, b: ReplicaVersion): number {
  return a.lsn < b.lsn ? -1 : a.lsn > b.lsn ? 1 : a.seq - b.seq;
}
