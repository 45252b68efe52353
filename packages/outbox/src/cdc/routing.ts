import { createEvent, type OutboxEvent } from '../envelope/envelope.js';
import { uuidv7 } from '../envelope/uuid.js';
import { OutboxError } from '../errors.js';
import type { CdcTransaction, ChangeEvent, Row } from './change-event.js';
import { parseLsn } from './lsn.js';

/** Options of {@link outboxEventsOf}. */
export interface OutboxRouterOptions {
  /** The outbox table, as `schema.table`. @defaultValue 'public.outbox' */
  table?: string | undefined;
}

const splitTable = (spec: string) => {
  const parts = spec.split('.');
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { schema: 'public', table: parts[0]! };
};

const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v);

/**
 * Debezium's outbox event router: turns the inserts of a transaction into the outbox table back into the events
 * that were appended (same id, aggregate type, aggregate id, type, version, payload, headers, time). The aggregate
 * type routes the event (NATS subject, Redis stream); the aggregate id is its key, so per-aggregate order holds.
 * Updates and deletes of the outbox table (marking sent, cleanup) are not events and are ignored.
 *
 * @throws {@link OutboxError} `OUTBOX_INVALID_EVENT` when an inserted row is not a valid envelope.
 * @example
 * ```ts
 * import { outboxEventsOf, type CdcTransaction } from '@dataplane/outbox';
 *
 * declare const tx: CdcTransaction; // from a PgChangeStream over public.outbox
 * const events = outboxEventsOf(tx, { table: 'public.outbox' });
 * ```
 * @since 0.1.0
 */
export function outboxEventsOf(tx: CdcTransaction, options: OutboxRouterOptions = {}): OutboxEvent[] {
  const { schema, table } = splitTable(options.table ?? 'public.outbox');
  const out: OutboxEvent[] = [];
  for (const c of tx.changes) {
    if ((c.op !== 'c' && c.op !== 'r') || c.source.table !== table || c.source.schema !== schema) continue;
    const r = c.after as Row;
    const occurred = r.occurred_at instanceof Date ? r.occurred_at.toISOString() : String(r.occurred_at ?? new Date(tx.commitTime).toISOString());
    out.push(
      createEvent({
        id: String(r.id),
        aggregateType: String(r.aggregate_type),
        aggregateId: String(r.aggregate_id),
        type: String(r.type),
        version: Number(r.version ?? 1),
        payload: json(r.payload),
        headers: (json(r.headers) as Record<string, string> | null) ?? {},
        occurredAt: occurred,
      }),
    );
  }
  return out;
}

/** Options of {@link changeEventsOf}. */
export interface TableRouterOptions {
  /**
   * The aggregate type (stream / subject) of a table's changes.
   * @defaultValue the table name, e.g. `customers`
   */
  route?: ((schema: string, table: string) => string) | undefined;
}

const TYPES = { c: 'row.created', u: 'row.updated', d: 'row.deleted', t: 'row.truncated', r: 'row.read' } as const;

/**
 * A deterministic UUIDv7 for a change: the commit time in the timestamp bits, the commit LSN and the change's
 * position in the random bits, so a change re-delivered after a relay crash carries the same id and is
 * deduplicated by the broker (Nats-Msg-Id) and by the consumer's inbox.
 */
export function changeId(change: ChangeEvent): string {
  const lsn = parseLsn(change.source.lsn);
  const seq = BigInt(change.source.seq);
  // 74 random bits: 12 for rand_a, 62 for rand_b; lsn low 50 bits and seq (24 bits) fit without overlap
  const bits = ((lsn & ((1n << 50n) - 1n)) << 24n) | (seq & 0xffffffn);
  return uuidv7(change.source.ts, (b) => {
    let v = bits;
    for (let i = 15; i >= 6; i--) {
      if (i === 8) {
        b[i] = Number(v & 0x3fn);
        v >>= 6n;
        continue;
      }
      if (i === 6) {
        b[i] = Number(v & 0x0fn);
        v >>= 4n;
        continue;
      }
      b[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  });
}

/**
 * Generic table CDC as events: each row change becomes an event whose aggregate type is the table (routing),
 * aggregate id the primary key values (JSON), type `row.created|updated|deleted|truncated|read`, and payload the
 * Debezium-shaped change `{op, before, after, key, source}`. Ids are deterministic ({@link changeId}).
 *
 * @example
 * ```ts
 * import { changeEventsOf, type CdcTransaction } from '@dataplane/outbox';
 *
 * declare const tx: CdcTransaction;
 * const events = changeEventsOf(tx); // aggregateType 'customers', type 'row.updated', payload {op, before, after, source}
 * ```
 * @since 0.1.0
 */
export function changeEventsOf(tx: CdcTransaction, options: TableRouterOptions = {}): OutboxEvent<ChangeEvent>[] {
  const route = options.route ?? ((_s: string, t: string) => t);
  return tx.changes.map((c) => {
    const image = c.op === 'd' ? c.before : c.after;
    const key = c.op === 't' || !image ? '*' : JSON.stringify(c.key.map((k) => image[k] ?? null));
    const aggregateType = route(c.source.schema, c.source.table);
    if (typeof aggregateType !== 'string' || aggregateType.length === 0) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `route() returned no aggregate type for ${c.source.schema}.${c.source.table}`);
    return createEvent<ChangeEvent>({
      id: changeId(c),
      aggregateType,
      aggregateId: key,
      type: TYPES[c.op],
      payload: c,
      headers: { 'cdc.lsn': c.source.lsn, 'cdc.txid': String(c.source.txid), 'cdc.table': `${c.source.schema}.${c.source.table}` },
      occurredAt: new Date(c.source.ts),
    });
  });
}
