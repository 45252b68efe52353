/**
 * Service data ownership: transactional outbox, polling and Postgres CDC relays, Redis Streams and NATS JetStream transports, idempotent inbox consumers and replicated read models.
 *
 * @packageDocumentation
 */
export { OutboxError } from './errors.js';
export type { OutboxErrorCode, OutboxErrorOptions } from './errors.js';
