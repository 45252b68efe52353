/**
 * NATS JetStream transport: `@dataplane/outbox/nats`. Pass your own nats.js connection; this module does not import
 * nats.
 *
 * @packageDocumentation
 */
export { NatsJetStreamTransport } from './transport.js';
export type { NatsJetStreamTransportOptions, NatsJetStreamTransportStats } from './transport.js';
export type { NatsConnectionLike } from './driver.js';
