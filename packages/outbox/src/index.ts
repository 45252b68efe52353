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
export { uuidv7 } from './envelope/uuid.js';
export { createEvent, validateEvent, encodeEvent, decodeEvent } from './envelope/envelope.js';
export type { OutboxEvent, NewEvent } from './envelope/envelope.js';
export { EventRegistry } from './schema/registry.js';
export type { EventDefinition, StandardSchemaV1, StandardResult } from './schema/registry.js';
export type { Transport, DeliveryHandler, DeliveryInfo, SubscribeOptions, Subscription } from './transport/types.js';
export { MemoryTransport } from './transport/memory.js';
export type { OutboxSource, OutboxStore, Inbox, DeadLetter } from './store/types.js';
export { PollingRelay } from './relay/polling-relay.js';
export type { PollingRelayOptions, PollingRelayStats } from './relay/polling-relay.js';
export { backoffDelay } from './relay/backoff.js';
export { Consumer } from './consumer/consumer.js';
export type { ConsumerOptions, ConsumerStats } from './consumer/consumer.js';
export { outboxEventsOf, changeEventsOf, changeId } from './cdc/routing.js';
export type { OutboxRouterOptions, TableRouterOptions } from './cdc/routing.js';
