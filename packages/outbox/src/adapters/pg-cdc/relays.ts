import { createCdcRelay, type CdcRelay, type CdcRelayOptions } from '../../cdc/relay.js';
import { changeEventsOf, outboxEventsOf } from '../../cdc/routing.js';
import type { OutboxEvent } from '../../envelope/envelope.js';
import type { Transport } from '../../transport/types.js';
import { createPgChangeStream, type PgChangeStreamOptions } from './change-stream.js';

type StreamOptions = Omit<PgChangeStreamOptions, 'tables' | 'slot' | 'publication'> & { slot?: string | undefined; publication?: string | undefined };
type RelayTuning = Pick<CdcRelayOptions<OutboxEvent>, 'maxBatchTransactions' | 'backoff' | 'onError' | 'clock' | 'signal'>;

/** Options of {@link createOutboxCdcRelay}. */
export interface OutboxCdcRelayOptions extends StreamOptions, RelayTuning {
  /** Where events go; `publish` resolves once the broker confirmed. */
  transport: Transport;
  /** The outbox table written by `PgOutboxStore`. @defaultValue 'public.dataplane_outbox' */
  table?: string | undefined;
}

/**
 * Publishes the outbox from the WAL (Debezium's outbox event router): every event appended with
 * `PgOutboxStore.append` in a committed transaction is published with its own id, routed by aggregate type and
 * keyed by aggregate id, in commit order; the slot is acknowledged only after the transport confirmed. No polling
 * and no `sent_at` updates are needed (rows can be deleted at any time after commit: the WAL holds them).
 * Slot and publication default to `dataplane_outbox`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createOutboxCdcRelay } from '@dataplane/outbox/pg-cdc';
 * import { RedisStreamsTransport } from '@dataplane/outbox/redis';
 *
 * const relay = createOutboxCdcRelay({
 *   connectionString: 'postgres://postgres@127.0.0.1:5432/test',
 *   transport: new RedisStreamsTransport({ client: new Redis() }),
 * });
 * await relay.start();
 * ```
 * @since 0.1.0
 */
export function createOutboxCdcRelay(options: OutboxCdcRelayOptions): CdcRelay<OutboxEvent> {
  const table = options.table ?? 'public.dataplane_outbox';
  const { transport, maxBatchTransactions, backoff, onError, clock, signal, ...stream } = options;
  return createCdcRelay<OutboxEvent>({
    source: () => createPgChangeStream({ ...stream, slot: stream.slot ?? 'dataplane_outbox', publication: stream.publication ?? 'dataplane_outbox', tables: [table], snapshot: false }),
    toMessages: (tx) => outboxEventsOf(tx, { table }),
    publish: (events) => transport.publish(events, signal ? { signal } : undefined),
    maxBatchTransactions,
    backoff,
    onError,
    clock,
    signal,
  });
}

/** Options of {@link createTableCdcRelay}. */
export interface TableCdcRelayOptions extends StreamOptions, RelayTuning {
  transport: Transport;
  /** Tables to capture, `schema.table`. */
  tables: readonly string[];
  /** Aggregate type (stream/subject) of a table's changes. @defaultValue the table name */
  route?: ((schema: string, table: string) => string) | undefined;
  /** Slot name. @defaultValue 'dataplane_tables' */
  slot?: string | undefined;
  /** Publication name. @defaultValue 'dataplane_tables' */
  publication?: string | undefined;
}

/**
 * Publishes row changes of chosen tables (generic CDC) as events `{op, before, after, key, source}` with
 * deterministic ids, so redeliveries after a crash are deduplicated downstream. With `snapshot: true`, existing
 * rows are published first (op `r`), consistent with the slot's start point — the feed of a replicated read model.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createTableCdcRelay } from '@dataplane/outbox/pg-cdc';
 * import { RedisStreamsTransport } from '@dataplane/outbox/redis';
 *
 * const relay = createTableCdcRelay({
 *   connectionString: 'postgres://postgres@127.0.0.1:5432/test',
 *   tables: ['public.customers'],
 *   snapshot: true,
 *   transport: new RedisStreamsTransport({ client: new Redis() }),
 * });
 * await relay.start();
 * ```
 * @since 0.1.0
 */
export function createTableCdcRelay(options: TableCdcRelayOptions): CdcRelay<OutboxEvent> {
  const { transport, tables, route, maxBatchTransactions, backoff, onError, clock, signal, ...stream } = options;
  return createCdcRelay<OutboxEvent>({
    source: () => createPgChangeStream({ ...stream, slot: stream.slot ?? 'dataplane_tables', publication: stream.publication ?? 'dataplane_tables', tables }),
    toMessages: (tx) => changeEventsOf(tx, { route }),
    publish: (events) => transport.publish(events, signal ? { signal } : undefined),
    maxBatchTransactions,
    backoff,
    onError,
    clock,
    signal,
  });
}
