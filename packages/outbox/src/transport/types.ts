import type { OutboxEvent } from '../envelope/envelope.js';

/**
 * A message broker seen by relays (publish) and consumers (subscribe). Implementations: in-process
 * ({@link MemoryTransport}), Redis Streams (`@dataplane/outbox/redis`), NATS JetStream (`@dataplane/outbox/nats`).
 *
 * Contract: `publish` resolves only once the broker has durably accepted every event, in the given order per
 * aggregate; a rejection means some may or may not have been accepted (callers retry; consumers dedupe by id).
 * Delivery is at-least-once: a handler may see an event again after a crash, a timeout or a redelivery.
 *
 * @since 0.1.0
 */
export interface Transport {
  /** Publishes events; resolves only when the broker confirmed all of them. */
  publish(events: readonly OutboxEvent[], options?: { signal?: AbortSignal | undefined }): Promise<void>;
  /** Starts delivering events to `handler`; an event is acknowledged only after `handler` resolved. */
  subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription>;
  /** Closes the transport's own resources (not a client passed in by the caller). Idempotent. */
  close(): Promise<void>;
}

/** Handles one delivered event; resolve to acknowledge, reject to leave it for redelivery. */
export type DeliveryHandler = (event: OutboxEvent, delivery: DeliveryInfo) => Promise<void>;

/** Broker-side facts about one delivery. */
export interface DeliveryInfo {
  /** How many times the broker has delivered this message (1 on first delivery), when it knows. */
  deliveryCount: number;
}

/** Options of {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /** Consumer group / durable name: subscribers with the same group share the work. */
  group: string;
  /** Aggregate types to receive. */
  aggregateTypes: readonly string[];
  /** Name of this subscriber within the group (Redis consumer name). @defaultValue a random name */
  consumer?: string | undefined;
  /** Largest number of events handed to handlers at once. @defaultValue 64 */
  maxInFlight?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A running subscription. */
export interface Subscription {
  /** Stops fetching, waits for in-flight handlers to finish and acknowledges them. Idempotent. */
  close(): Promise<void>;
}
