/**
 * Service data ownership: transactional outbox, polling and Postgres CDC relays, Redis Streams and NATS JetStream transports, idempotent inbox consumers and replicated read models.
 *
 * @packageDocumentation
 */
export { OutboxError } from './errors.js';
export type { OutboxErrorCode, OutboxErrorOptions } from './errors.js';
export { parseLsn, formatLsn } from './cdc/lsn.js';
export type { Lsn } from './cdc/lsn.js';
export { TransactionAssembler } from './cdc/change-event.js';
export type { ChangeEvent, ChangeOp, ChangeSource, CdcTransaction, Row, PgOutputMessage, RelationLike } from './cdc/change-event.js';
export { Replica, createReplica } from './replica/replica.js';
export type { ReplicaOptions, ReplicaStats, ReplicaStore, ReplicaWrite, ReplicaVersion } from './replica/replica.js';
export { createMemoryReplicaStore } from './replica/memory-store.js';
export { CdcRelay, createCdcRelay } from './cdc/relay.js';
export type { CdcRelayOptions, CdcRelayStats, CdcSource } from './cdc/relay.js';
