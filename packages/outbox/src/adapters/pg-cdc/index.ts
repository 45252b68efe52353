/**
 * Change data capture from PostgreSQL logical replication (pgoutput), through `pg` and `pg-logical-replication`
 * (optional peer dependencies: `npm install pg pg-logical-replication`).
 *
 * @packageDocumentation
 */
export { PgChangeStream, createPgChangeStream } from './change-stream.js';
export type { PgChangeStreamOptions, PgChangeStreamStats } from './change-stream.js';
export { createPgReplicaStore } from './pg-replica-store.js';
export type { PgReplicaStoreOptions } from './pg-replica-store.js';
export { createOutboxCdcRelay, createTableCdcRelay } from './relays.js';
export type { OutboxCdcRelayOptions, TableCdcRelayOptions } from './relays.js';
