/**
 * Change events in Debezium's shape, assembled from decoded pgoutput messages.
 *
 * The assembler is driver-free: it takes the decoded messages of one replication stream (Begin, Relation,
 * Insert, Update, Delete, Truncate, Commit) in order and emits whole committed transactions, so that a relay can
 * publish a transaction and only then acknowledge its end LSN.
 */
import { OutboxError } from '../errors.js';
import type { Lsn } from './lsn.js';

/** A decoded row: column name to value (typed by the column's PostgreSQL type). */
export type Row = Record<string, unknown>;

/**
 * Operation of a change event, as in Debezium: `c` insert, `u` update, `d` delete, `t` truncate, `r` a row read
 * by the initial snapshot.
 */
export type ChangeOp = 'c' | 'u' | 'd' | 't' | 'r';

/** Where a change comes from. */
export interface ChangeSource {
  /** LSN of the transaction's commit record (the same for every change of one transaction). */
  lsn: Lsn;
  /** Transaction id. */
  txid: number;
  schema: string;
  table: string;
  /** Commit time in milliseconds since the epoch. */
  ts: number;
  /** Position of the change inside its transaction (0-based); with `lsn` it orders all changes totally. */
  seq: number;
  /** True for rows read by the initial snapshot. */
  snapshot?: boolean;
}

/**
 * One row-level change. `before` is present for updates and deletes when the table's REPLICA IDENTITY provides
 * it (FULL gives the whole old row, DEFAULT only the primary key on deletes and key-changing updates);
 * `after` is present for inserts, updates and snapshot reads.
 */
export interface ChangeEvent {
  op: ChangeOp;
  before: Row | null;
  after: Row | null;
  /**
   * Key column names: the table's primary key when it has one, else its replica identity columns (which under
   * REPLICA IDENTITY FULL are all columns).
   */
  key: readonly string[];
  source: ChangeSource;
}

/** A committed transaction: its changes in commit order, and the LSN to acknowledge once they are published. */
export interface CdcTransaction {
  txid: number;
  /** LSN of the commit record. */
  commitLsn: Lsn;
  /** LSN just past the commit record: acknowledge this once the transaction is published. */
  endLsn: Lsn;
  /** Commit time in milliseconds since the epoch. */
  commitTime: number;
  changes: ChangeEvent[];
}

/** The subset of a decoded pgoutput relation message the assembler needs. */
export interface RelationLike {
  schema: string;
  name: string;
  keyColumns: string[];
  columns: { name: string }[];
}

/** The decoded pgoutput messages the assembler understands (the shape pg-logical-replication produces). */
export type PgOutputMessage =
  | { tag: 'begin'; commitLsn: string | null; commitTime: bigint | number | { valueOf(): bigint | number }; xid: number }
  | { tag: 'commit'; commitLsn: string | null; commitEndLsn: string | null; commitTime: bigint | number | { valueOf(): bigint | number } }
  | { tag: 'insert'; relation: RelationLike; new: Row }
  | { tag: 'update'; relation: RelationLike; key: Row | null; old: Row | null; new: Row }
  | { tag: 'delete'; relation: RelationLike; key: Row | null; old: Row | null }
  | { tag: 'truncate'; relations: RelationLike[] }
  | { tag: 'relation' | 'type' | 'origin' | 'message' };

/**
 * pgoutput timestamps are microseconds since 2000-01-01; pg-logical-replication shifts them to microseconds since
 * the Unix epoch as a bigint. Numbers are taken as milliseconds already.
 */
function toMillis(t: bigint | number | { valueOf(): bigint | number }): number {
  const v = typeof t === 'object' ? t.valueOf() : t;
  return typeof v === 'bigint' ? Number(v / 1000n) : v;
}

/**
 * Assembles decoded pgoutput messages into committed transactions.
 *
 * @remarks
 * pgoutput (protocol 1) only sends a transaction once it has committed, Begin to Commit, in commit order, so a
 * transaction is complete when its Commit arrives. A change outside Begin/Commit is a protocol error.
 *
 * @example
 * ```ts
 * import { TransactionAssembler } from '@dataplane/outbox';
 *
 * const asm = new TransactionAssembler();
 * const rel = { schema: 'public', name: 't', keyColumns: ['id'], columns: [{ name: 'id' }] };
 * asm.push({ tag: 'begin', commitLsn: '0/10', commitTime: 0n, xid: 7 });
 * asm.push({ tag: 'insert', relation: rel, new: { id: 1 } });
 * const tx = asm.push({ tag: 'commit', commitLsn: '0/10', commitEndLsn: '0/18', commitTime: 0n });
 * tx?.changes[0]?.op; // 'c'
 * ```
 * @since 0.1.0
 */
export class TransactionAssembler {
  #open: CdcTransaction | undefined;

  /** Whether a transaction has begun and not yet committed. */
  get inTransaction(): boolean {
    return this.#open !== undefined;
  }

  /**
   * Feeds one message; returns the transaction when `msg` is its Commit.
   *
   * @throws {@link OutboxError} `OUTBOX_PROTOCOL` on a change or commit outside a transaction.
   */
  push(msg: PgOutputMessage): CdcTransaction | undefined {
    switch (msg.tag) {
      case 'begin':
        this.#open = { txid: msg.xid, commitLsn: msg.commitLsn ?? '0/0', endLsn: msg.commitLsn ?? '0/0', commitTime: toMillis(msg.commitTime), changes: [] };
        return undefined;
      case 'commit': {
        const tx = this.#need('commit');
        this.#open = undefined;
        tx.commitLsn = msg.commitLsn ?? tx.commitLsn;
        tx.endLsn = msg.commitEndLsn ?? tx.commitLsn;
        tx.commitTime = toMillis(msg.commitTime);
        for (const c of tx.changes) c.source.ts = tx.commitTime;
        return tx;
      }
      case 'insert':
        this.#add('c', msg.relation, null, msg.new);
        return undefined;
      case 'update':
        this.#add('u', msg.relation, msg.old ?? msg.key, msg.new);
        return undefined;
      case 'delete':
        this.#add('d', msg.relation, msg.old ?? msg.key, null);
        return undefined;
      case 'truncate':
        for (const rel of msg.relations) this.#add('t', rel, null, null);
        return undefined;
      default:
        return undefined;
    }
  }

  #need(what: string): CdcTransaction {
    if (!this.#open) throw new OutboxError('OUTBOX_PROTOCOL', `pgoutput ${what} outside a transaction`);
    return this.#open;
  }

  #add(op: ChangeOp, rel: RelationLike, before: Row | null, after: Row | null): void {
    const tx = this.#need(op);
    tx.changes.push({
      op,
      before,
      after,
      key: rel.keyColumns,
      source: { lsn: tx.commitLsn, txid: tx.txid, schema: rel.schema, table: rel.name, ts: tx.commitTime, seq: tx.changes.length },
    });
  }
}
